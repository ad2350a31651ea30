/**
 * Slow clients against a real `dfs gateway` process: 500 sockets, half trickling PUT bodies, half
 * GETs of a multi-MiB file that never read. The gateway's RSS stays bounded (the transfer cap),
 * other requests are answered within a second, and the timeouts cut every slow socket.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { request } from "undici";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  conformance,
  http,
  startCluster,
  startGatewayInProcess,
  startGatewayProcess,
  waitLive,
} from "./helpers/gateway.ts";
import type { Proc } from "./helpers/proc.ts";

const SLOW = 500;
const FILE_BYTES = 32 * 1024 * 1024;
const TIMEOUT_MS = 2000;
const RSS_LIMIT = 200 * 1024 * 1024;

let cluster: Cluster;
let gw: { url: string; proc: Proc; stop(): Promise<void> };

before(async () => {
  cluster = await startCluster(3, "gwslow:");
  gw = await startGatewayProcess(cluster, [
    "--body-idle-timeout-ms",
    String(TIMEOUT_MS),
    "--write-timeout-ms",
    String(TIMEOUT_MS),
    "--headers-timeout-ms",
    String(TIMEOUT_MS),
    "--keep-alive-timeout-ms",
    String(TIMEOUT_MS),
  ]);
  await waitLive(gw.url, 3);
});

after(async () => {
  await gw?.stop();
  await cluster?.stop();
});

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function metric(url: string, name: string): Promise<number> {
  const text = (await http(url, "GET", "/metrics")).body.toString();
  const m = new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

interface Slow {
  socket: Socket;
  /** Bytes the socket received, read only once the test resumes it. */
  received: number;
  /** The server ended or reset the connection. */
  closed: Promise<void>;
  stop(): void;
}

function open(url: string, head: string, trickle: boolean): Slow {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let timer: NodeJS.Timeout | undefined;
  const slow: Slow = {
    socket,
    received: 0,
    closed: new Promise((resolve) => socket.once("close", () => resolve())),
    stop() {
      clearInterval(timer);
    },
  };
  socket.on("error", () => slow.stop());
  socket.on("close", () => slow.stop());
  socket.on("data", (piece: Buffer) => {
    slow.received += piece.length;
  });
  socket.pause(); // never reads, until the test says so
  socket.write(head);
  // A byte every quarter of the timeout: never silent for long, yet far too slow.
  if (trickle) timer = setInterval(() => socket.write("x"), TIMEOUT_MS / 4);
  return slow;
}

describe("500 slow sockets", () => {
  test("RSS stays under 200 MiB, others are answered within a second, the slow ones are cut", async () => {
    const data = patternBytes(FILE_BYTES, 41);
    const up = await request(`${gw.url}/v1/files?name=big.bin`, { method: "PUT", body: data });
    assert.equal(up.statusCode, 201);
    const hash = ((await up.body.json()) as { hash: string }).hash;
    const host = new URL(gw.url).host;

    const rssBefore = await rssOf(gw.proc.pid);
    const slow: Slow[] = [];
    let maxRss = 0;
    const sampler = setInterval(() => {
      rssOf(gw.proc.pid).then(
        (r) => {
          maxRss = Math.max(maxRss, r);
        },
        () => {},
      );
    }, 100);
    try {
      for (let i = 0; i < SLOW; i++) {
        slow.push(
          i % 2 === 0
            ? open(
                gw.url,
                `PUT /v1/files HTTP/1.1\r\nhost: ${host}\r\ncontent-length: 1048576\r\n\r\nx`,
                true,
              )
            : open(gw.url, `GET /v1/files/${hash} HTTP/1.1\r\nhost: ${host}\r\n\r\n`, false),
        );
        if (i % 50 === 49) await delay(20);
      }
      await delay(500); // all of them in
      // The admitted downloads fill their sockets before they stick: on a loaded machine that work
      // can take the gateway's CPU for a while. Settled once a ping answers at once (at most 1.5 s
      // more, short of the slow sockets' 2 s timeouts).
      for (let t = 0; t < 15; t++) {
        const t0 = performance.now();
        await http(gw.url, "GET", "/healthz");
        if (performance.now() - t0 < 250) break;
        await delay(100);
      }

      // Others are answered, each within a second: ops at once, transfers at once or with a clear 503.
      const small = patternBytes(4096, 42);
      for (let round = 0; round < 3; round++) {
        for (const [method, path] of [
          ["GET", "/readyz"],
          ["HEAD", `/v1/files/${hash}`],
          ["GET", "/v1/nodes"],
        ] as const) {
          const t0 = performance.now();
          const res = await http(gw.url, method, path);
          const ms = performance.now() - t0;
          assert.equal(res.status, 200, `${method} ${path}`);
          assert.ok(ms < 1000, `${method} ${path} took ${ms.toFixed(0)} ms`);
        }
        const t0 = performance.now();
        const res = await http(gw.url, "PUT", "/v1/files?name=small.bin", { body: small });
        const ms = performance.now() - t0;
        assert.ok(ms < 1000, `a small upload took ${ms.toFixed(0)} ms`);
        if (res.status === 503) {
          assert.equal((res.json as { code: string }).code, "DFS_ERR_BUSY");
          assert.equal(res.headers["retry-after"], "1");
        } else {
          assert.ok(res.status === 201 || res.status === 200, `status ${res.status}`);
        }
        await delay(300);
      }

      // Every slow socket is cut: the trickles by the body timeout (or refused), the stuck
      // downloads by the write timeout. Reading now, each gets less than the file, then the end.
      await delay(2 * TIMEOUT_MS + 1000);
      for (const s of slow) s.socket.resume();
      const cut = await Promise.race([
        Promise.all(slow.map((s) => s.closed)).then(() => true),
        delay(6 * TIMEOUT_MS + 10_000, false),
      ]);
      const open_ = slow.filter((s) => !s.socket.destroyed && s.socket.readyState !== "closed").length;
      assert.ok(cut, `${open_} slow sockets still open`);
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      console.log(`gateway RSS ${mib(rssBefore)} MiB before, ${mib(maxRss)} MiB at the peak`);
      const whole = slow.filter((s) => s.received >= FILE_BYTES).length;
      assert.equal(whole, 0, `${whole} slow downloads got the whole file`);
      assert.ok(maxRss < RSS_LIMIT, `gateway RSS peaked at ${(maxRss / 2 ** 20).toFixed(0)} MiB`);
    } finally {
      clearInterval(sampler);
      for (const s of slow) {
        s.stop();
        s.socket.destroy();
      }
    }

    assert.ok((await metric(gw.url, 'dfs_gateway_guarded_total{reason="reader_stopped"}')) > 0);
    assert.ok((await metric(gw.url, 'dfs_gateway_guarded_total{reason="body_stalled"}')) > 0);
    assert.ok((await metric(gw.url, 'dfs_gateway_guarded_total{reason="transfers"}')) > 0);
    assert.equal(await metric(gw.url, 'dfs_gateway_in_flight{kind="transfers"}'), 0);
    // And the gateway serves whole files again.
    const down = await request(`${gw.url}/v1/files/${hash}`);
    assert.equal(down.statusCode, 200);
    assert.equal(sha256(Buffer.from(await down.body.arrayBuffer())), hash);
  });
});

/** Resolves when the server closes `socket`, with what it sent. */
function answerOf(socket: Socket): Promise<string> {
  let text = "";
  socket.on("data", (piece: Buffer) => {
    text += piece.toString("latin1");
  });
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve(text)));
}

describe("the listener's own limits", () => {
  test("headers that never finish are cut (408); past maxConnections a clear 503; idle keep-alive closes", async () => {
    const g = await startGatewayInProcess(cluster, {
      "max-connections": "4",
      "headers-timeout-ms": "1000",
      "keep-alive-timeout-ms": "1000",
    });
    const sockets: Socket[] = [];
    try {
      const { hostname, port } = new URL(g.url);
      const dial = () => {
        const s = connect({ host: hostname, port: Number(port) });
        sockets.push(s);
        return s;
      };
      // Four connections whose headers never end: they hold every place...
      const slowHeads = Array.from({ length: 4 }, () => {
        const s = dial();
        s.write("GET /healthz HTTP/1.1\r\nhost: x\r\n");
        return { answer: answerOf(s), t0: performance.now() };
      });
      await delay(200);
      // ...so the fifth is refused at once, with a problem+json 503 and Retry-After.
      const t0 = performance.now();
      const refused = await request(`${g.url}/healthz`, { reset: true });
      const body = (await refused.body.json()) as { code: string };
      assert.ok(performance.now() - t0 < 1000);
      assert.equal(refused.statusCode, 503);
      assert.equal(body.code, "DFS_ERR_BUSY");
      assert.equal(refused.headers["retry-after"], "1");
      // As documented for any 503 (readiness has one too).
      assert.deepEqual(
        conformance({ method: "GET", path: "/readyz", status: 503, headers: refused.headers, json: body }),
        [],
      );
      // The slow heads are cut by the headers timeout, with a 408.
      for (const h of slowHeads) {
        const text = await h.answer;
        assert.match(text, /^HTTP\/1\.1 408/);
        const ms = performance.now() - h.t0;
        assert.ok(ms < 1000 + 2000, `cut after ${ms.toFixed(0)} ms`);
      }
      // Places are free again; an idle keep-alive connection is closed after its timeout.
      const idle = dial();
      const idleAnswer = answerOf(idle);
      idle.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
      const t1 = performance.now();
      assert.match(await idleAnswer, /^HTTP\/1\.1 200/);
      const idleMs = performance.now() - t1;
      assert.ok(idleMs >= 900 && idleMs < 4000, `idle connection closed after ${idleMs.toFixed(0)} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await g.stop();
    }
  });
});
