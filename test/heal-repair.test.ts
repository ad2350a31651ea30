/**
 * Self-healing end to end, on one topology: real Redis under Sentinel, real `dfs node` processes
 * (R = 3, repair grace 1.5 s, rounds every 500 ms), a gateway in this process (W = 2). Each test
 * first sets up its own state (cleanState: its own fresh nodes, nothing stored), so any one runs
 * alone and in any order.
 * (a) a node is SIGKILLed: every file stays downloadable, and every object gets back to R copies
 *     on the live nodes; (b) read-repair; (c) a node joins: it receives its share and every object
 *     ends at exactly R copies; (e) a node dies in the middle of a stream of uploads: no
 *     acknowledged upload is lost.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { FileMeta } from "../src/api/index.ts";
import { Placement } from "../src/placement/index.ts";
import type { NodeProc } from "./helpers/cluster.ts";
import { patternBytes } from "./helpers/data.ts";
import { http, SMALL_CHUNK, waitFor, waitLive } from "./helpers/gateway.ts";
import {
  copies,
  download,
  flipStored,
  type HealTopology,
  mixedSize,
  outOfRange,
  readStored,
  startHealTopology,
  stopHealTopology,
  type Uploaded,
  upload,
} from "./helpers/heal.ts";

const R = 3;
let h: HealTopology;
/** The data folder index of the next node started: every node starts on a fresh folder. */
let nextIndex = 0;

// Redis and the gateway are shared; they hold no files. Each test starts its own nodes.
before(async () => {
  h = await startHealTopology(0, "healrepair:");
});

after(() => stopHealTopology(h));

const running = (n: NodeProc) => n.proc.child.exitCode === null && n.proc.child.signalCode === null;

function liveAddrs(): string[] {
  return h.cluster.nodes.filter(running).map((n) => n.addr);
}

/**
 * Each test's starting state, whatever ran before it and however it ended: `count` fresh nodes,
 * nothing stored, all of them live in the gateway's view, and no other. The nodes of the test
 * before stop with SIGTERM (which takes them out of the registry at once) while the fresh ones start.
 */
async function cleanState(count: number): Promise<void> {
  const old = h.cluster.nodes.filter(running);
  const fresh = Array.from({ length: count }, () => h.cluster.startNode(nextIndex++));
  await Promise.all(old.map((n) => n.stop("SIGTERM")));
  h.cluster.nodes = await Promise.all(fresh);
  await waitLive(h.gw.url, count);
}

async function allReadable(list: readonly Uploaded[]): Promise<void> {
  for (const f of list) {
    const got = await download(h.gw.url, f.hash);
    assert.ok(Buffer.isBuffer(got), `file ${f.hash} answered ${String(got)}`);
    assert.ok(got.equals(f.data), `file ${f.hash} came back with other bytes`);
  }
}

/** Uploads `count` files of mixed sizes (seeds from `seed`) and waits until every object has R copies. */
async function uploadAtR(count: number, seed: number): Promise<Uploaded[]> {
  const files: Uploaded[] = [];
  for (let i = 0; i < count; i++) {
    files.push(await upload(h.gw.url, patternBytes(mixedSize(i, SMALL_CHUNK), seed + i)));
  }
  const held = await copies(h.client, liveAddrs());
  assert.ok(held.size > count, "objects stored");
  await waitFor(
    async () => outOfRange(await copies(h.client, liveAddrs()), R) === 0,
    20_000,
    "R copies of every object",
  );
  return files;
}

describe("read-repair", () => {
  test("(b) a download that meets a corrupt copy on an owner stores a good one there", async () => {
    // Three nodes: every one an owner of every object (R = 3).
    await cleanState(3);
    const { cluster, gw } = h;
    const repaired = async () => {
      const text = (await http(gw.url, "GET", "/metrics")).body.toString();
      return Number(/dfs_gateway_read_repairs_total\{result="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const repairedBefore = await repaired();
    // Scrub runs hourly here and repair does not look inside copies: only read-repair can heal it.
    const data = patternBytes(2 * SMALL_CHUNK + 3, 99);
    const f = await upload(gw.url, data);
    const meta = await http(gw.url, "GET", `/v1/files/${f.hash}/meta`);
    const id = (meta.json as FileMeta).chunks[0]!.id;
    const res = await http(gw.url, "GET", "/v1/nodes");
    const nodes = (
      res.json as {
        nodes: { id: string; addr: string; zone: string; capacityBytes: number; state: string }[];
      }
    ).nodes;
    const live = nodes.filter((n) => n.state === "live");
    const first = new Placement(live).order(id)[0]!.addr;
    const node = cluster.nodes.find((n) => n.addr === first)!;
    await flipStored(node.dataDir, "chunk", id);
    const got = await download(gw.url, f.hash);
    assert.ok(Buffer.isBuffer(got) && got.equals(data));
    await waitFor(
      async () =>
        createHash("sha256")
          .update((await readStored(node.dataDir, "chunk", id)) ?? Buffer.alloc(0))
          .digest("hex") === id,
      10_000,
      "read-repair to rewrite the corrupt copy",
    );
    // The node holds the good copy before the gateway hears back and counts it: wait for the count.
    await waitFor(async () => (await repaired()) > repairedBefore, 10_000, "the read-repair to be counted");
    await allReadable([f]);
  });
});

describe("repair and rebalance", () => {
  test("(a) a node is killed: files stay readable, every object is back at R copies", async () => {
    await cleanState(4);
    const files = await uploadAtR(80, 1);

    const victim = h.cluster.nodes[0]!;
    await victim.stop("SIGKILL");
    const killedAt = performance.now();
    // Downloads run all through the repair.
    let rounds = 0;
    let healedMs = -1;
    await waitFor(
      async () => {
        await allReadable(files);
        rounds++;
        const under = outOfRange(await copies(h.client, liveAddrs()), R);
        if (under === 0) healedMs = performance.now() - killedAt;
        return under === 0;
      },
      30_000,
      "every object back at R copies on the 3 live nodes",
    );
    console.log(
      `# (a) back at R copies ${Math.round(healedMs)} ms after the kill (${rounds} full download passes)`,
    );
    await allReadable(files);
  });

  test("(c) a node joins: it receives its share; every object ends at exactly R copies", async () => {
    // Three nodes hold every object; the fourth takes its share from them.
    await cleanState(3);
    const files = await uploadAtR(20, 500);
    const joined = await h.cluster.startNode(nextIndex++);
    h.cluster.nodes.push(joined);
    await waitLive(h.gw.url, 4);
    const t0 = performance.now();
    await waitFor(
      async () => {
        const held = await copies(h.client, liveAddrs());
        const mine = [...held.values()].filter((a) => a.includes(joined.addr)).length;
        return mine > 0 && outOfRange(held, R, R) === 0;
      },
      30_000,
      "exactly R copies of every object with the new node holding its share",
    );
    console.log(`# (c) rebalanced in ${Math.round(performance.now() - t0)} ms`);
    await allReadable(files);
  });

  test("(e) a node dies in the middle of a stream of uploads: no acknowledged upload is lost", async () => {
    await cleanState(4);
    // Files stored before the stream must survive the kill too.
    const files = await uploadAtR(10, 2000);
    const acked: Uploaded[] = [];
    let failed = 0;
    const victim = h.cluster.nodes[1]!;
    let i = 0;
    const stream = (async () => {
      for (; i < 60; i++) {
        const data = patternBytes(mixedSize(i, SMALL_CHUNK), 1000 + i);
        try {
          acked.push(await upload(h.gw.url, data));
        } catch {
          failed++;
        }
      }
    })();
    await waitFor(() => acked.length >= 15, 20_000, "15 uploads acknowledged");
    await victim.stop("SIGKILL");
    await stream;
    console.log(`# (e) ${acked.length} uploads acknowledged, ${failed} refused around the kill`);
    assert.ok(acked.length >= 40, "uploads go on after the kill");
    await allReadable(acked);
    await waitFor(
      async () => outOfRange(await copies(h.client, liveAddrs()), R) === 0,
      30_000,
      "R copies again after the kill",
    );
    await allReadable([...files, ...acked]);
  });
});
