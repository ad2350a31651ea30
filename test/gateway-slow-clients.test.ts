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
import { type Cluster, http, startCluster, startGatewayProcess, waitLive } from "./helpers/gateway.ts";
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
      await delay(500); // all of them in, and the admitted downloads stuck

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
