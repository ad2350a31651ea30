/**
 * Anti-entropy end to end: real Redis under Sentinel, real `dfs node` processes (R = 3), a signing
 * gateway in this process. Repair's period is ten minutes here, longer than any of these tests waits:
 * what repairs is the round a membership change starts (a node leaving or coming back, a node past
 * its grace of 6 s), and it finds what to repair by comparing digests. Each test starts its own
 * fresh nodes (cleanState), so any one runs alone.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ChunkCipher } from "../src/crypto/index.ts";
import { TREES } from "../src/node/sync/index.ts";
import { SyncLimits } from "../src/protocol/sync-messages.ts";
import { type NodeProc, testNodeClient } from "./helpers/cluster.ts";
import { patternBytes } from "./helpers/data.ts";
import { http, SMALL_CHUNK, TEST_KEY, waitFor, waitLive } from "./helpers/gateway.ts";
import {
  copies,
  download,
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
const GRACE_MS = 6000;
const cipher = new ChunkCipher(Buffer.from(TEST_KEY, "hex"));
let h: HealTopology;
let nextIndex = 0;

before(async () => {
  h = await startHealTopology(0, "healsync:", {
    DFS_REPAIR_INTERVAL_MS: "600000",
    DFS_REPAIR_GRACE_MS: String(GRACE_MS),
  });
});

after(() => stopHealTopology(h));

const running = (n: NodeProc) => n.proc.child.exitCode === null && n.proc.child.signalCode === null;
const liveAddrs = () => h.cluster.nodes.filter(running).map((n) => n.addr);

/** `count` fresh nodes, nothing stored, all of them live in the gateway's view, and no other. */
async function cleanState(count: number): Promise<void> {
  const old = h.cluster.nodes.filter(running);
  const fresh = Array.from({ length: count }, () => h.cluster.startNode(nextIndex++));
  await Promise.all(old.map((n) => n.stop("SIGTERM")));
  h.cluster.nodes = await Promise.all(fresh);
  await waitLive(h.gw.url, count);
}

/** Stops node i (SIGTERM: it leaves the registry at once) and returns how to start it again, same port and data. */
async function stopNode(i: number): Promise<() => Promise<void>> {
  const node = h.cluster.nodes[i]!;
  const index = Number(node.dataDir.split("-").at(-1));
  const port = Number(node.addr.split(":").at(-1));
  await node.stop("SIGTERM");
  await waitLive(h.gw.url, h.cluster.nodes.filter(running).length);
  return async () => {
    h.cluster.nodes[i] = await h.cluster.startNode(index, port);
    await waitLive(h.gw.url, h.cluster.nodes.filter(running).length);
  };
}

interface Heal {
  syncRounds: number;
  syncDifferences: number;
  syncRepaired: number;
  syncRequests: number;
  syncBytes: number;
  repaired: number;
}

/** Each node's heal counters, as the gateway last read them from the registry, by address. */
async function counters(): Promise<Map<string, Heal>> {
  const res = await http(h.gw.url, "GET", "/v1/nodes");
  const nodes = (res.json as { nodes: { addr: string; heal?: Heal; state: string }[] }).nodes;
  return new Map(nodes.filter((n) => n.heal && n.state === "live").map((n) => [n.addr, n.heal!]));
}

async function allReadable(list: readonly Uploaded[]): Promise<void> {
  for (const f of list) {
    const got = await download(h.gw.url, f.hash);
    assert.ok(Buffer.isBuffer(got) && got.equals(f.data), `file ${f.hash} reads back`);
  }
}

test("a node down while files are written catches up by sync alone", async () => {
  await cleanState(3);
  const before = await Promise.all(
    Array.from({ length: 5 }, (_, i) => upload(h.gw.url, patternBytes(500 + i, i))),
  );
  await waitFor(async () => outOfRange(await copies(h.client, liveAddrs()), R) === 0, 10_000, "R copies");
  // Every node owns everything (3 nodes, R = 3): what is written while one is away misses it.
  const had = (await copies(h.client, [h.cluster.nodes[2]!.addr])).size;
  const restart = await stopNode(2);
  const written: Uploaded[] = [];
  for (let i = 0; i < 24; i++)
    written.push(await upload(h.gw.url, patternBytes(mixedSize(i, SMALL_CHUNK), 100 + i)));
  const missed = await copies(h.client, liveAddrs());
  await restart();
  const t0 = performance.now();
  // No download in between (no read-repair), no periodic round (minutes away): only sync.
  await waitFor(
    async () => {
      const held = await copies(h.client, liveAddrs());
      return held.size === missed.size && outOfRange(held, R) === 0;
    },
    20_000,
    "the returning node holding every object",
  );
  console.log(`# caught up ${Math.round(performance.now() - t0)} ms after the node came back`);
  // Counters reach the gateway with the nodes' heartbeats: wait for them to show every copy.
  const missing = missed.size - had;
  const peers = (now: Map<string, Heal>) => [...now].filter(([addr]) => addr !== h.cluster.nodes[2]!.addr);
  const sum = (now: Map<string, Heal>, field: keyof Heal) => peers(now).reduce((n, [, c]) => n + c[field], 0);
  const c = await waitFor(
    async () => {
      const now = await counters();
      return sum(now, "syncRepaired") >= missing && now;
    },
    10_000,
    `the peers' counters showing ${missing} copies repaired by sync`,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify([...(await counters())])}`);
  });
  const repaired = sum(c, "syncRepaired");
  const differences = sum(c, "syncDifferences");
  assert.ok(repaired >= missing, `copies repaired by sync: ${repaired} for the ${missing} objects missed`);
  assert.ok(differences >= repaired, `differences found: ${differences}`);
  await allReadable([...before, ...written]);
});

test("a differing manifest version on one owner is found and replaced by the signed newer one", async () => {
  await cleanState(3);
  const data = patternBytes(2 * SMALL_CHUNK + 77, 200);
  const f = await upload(h.gw.url, data);
  const id = cipher.manifestId(f.hash);
  const stored = (i: number) => readStored(h.cluster.nodes[i]!.dataDir, "manifest", id);
  await waitFor(async () => (await stored(2)) !== undefined, 10_000, "the manifest on every owner");
  const first = (await stored(2))!;
  // While node 2 is away the file is deleted and uploaded again: a newer signed manifest on the
  // other two, the first version on node 2.
  const restart = await stopNode(2);
  assert.equal((await http(h.gw.url, "DELETE", `/v1/files/${f.hash}`)).status, 204);
  await sleep(5); // the next version's stamp is later
  await upload(h.gw.url, data);
  const newer = (await stored(0))!;
  assert.ok(!newer.equals(first), "a new version");
  assert.ok((await stored(1))!.equals(newer));
  await restart();
  await waitFor(
    async () => (await stored(2))?.equals(newer) === true,
    20_000,
    "node 2 holding the newer version",
  );
  assert.ok(((await download(h.gw.url, f.hash)) as Buffer).equals(data));
});

/** Whether each tree (chunks, manifests, table records) has the same root over every partition on every live node. */
async function treesAgree(): Promise<boolean> {
  const peer = testNodeClient("node", "heal-sync-probe");
  try {
    const set = new Uint8Array(SyncLimits.SET_BYTES).fill(0xff);
    for (const tree of Object.values(TREES)) {
      const roots = await Promise.all(
        liveAddrs().map(async (addr) => (await peer.sync(addr, { op: "root", tree, set })).answer.digests),
      );
      if (!roots.every((r) => r.equals(roots[0]!))) return false;
    }
    return true;
  } finally {
    await peer.close();
  }
}

test("a round in sync exchanges the root digests only: one request per peer and tree", async () => {
  await cleanState(3);
  for (let i = 0; i < 10; i++) await upload(h.gw.url, patternBytes(mixedSize(i, SMALL_CHUNK), 300 + i));
  await waitFor(async () => outOfRange(await copies(h.client, liveAddrs()), R) === 0, 10_000, "R copies");
  // The uploads' table records reach their third owner after the write quorum answered: wait
  // until every tree's root is the same on every node, or a round would rightly find that record.
  await waitFor(treesAgree, 10_000, "every tree the same on every node");
  const quiet = await counters();
  // Node 2 leaves and comes back with everything it had: membership changes, so the other two
  // run rounds (with each other, then with it), all of them in sync.
  const restart = await stopNode(2);
  await sleep(1500);
  await restart();
  const stayed = h.cluster.nodes.slice(0, 2).map((n) => n.addr);
  const after = await waitFor(
    async () => {
      const now = await counters();
      return stayed.every((a) => now.get(a)!.syncRounds >= quiet.get(a)!.syncRounds + 2) && now;
    },
    15_000,
    "two more rounds on each node that stayed",
  );
  // A SYNC root request: 12-byte header, op, tree, the 8 KiB partition set, 16-byte tag; its
  // answer: header, u16 count, one 36-byte digest, tag.
  const ROOT_EXCHANGE = 12 + 2 + 8192 + 16 + (12 + 2 + 36 + 16);
  for (const addr of stayed) {
    const [was, is] = [quiet.get(addr)!, after.get(addr)!];
    const requests = is.syncRequests - was.syncRequests;
    console.log(
      `# ${addr}: ${is.syncRounds - was.syncRounds} rounds, ${requests} requests, ${is.syncBytes - was.syncBytes} bytes`,
    );
    // Chunks, manifests and table records (the uploads' chunk references).
    assert.ok(requests >= 3 * (is.syncRounds - was.syncRounds), "at least one request per peer and tree");
    assert.equal(is.syncBytes - was.syncBytes, requests * ROOT_EXCHANGE, "root digests only");
    assert.equal(is.syncDifferences, was.syncDifferences, "no difference found");
    assert.equal(is.repaired, was.repaired, "nothing copied");
  }
});

test("a SIGKILL of one node of four: R copies again within the grace and a few seconds, not a period", async () => {
  await cleanState(4);
  const files: Uploaded[] = [];
  for (let i = 0; i < 40; i++)
    files.push(await upload(h.gw.url, patternBytes(mixedSize(i, SMALL_CHUNK), 400 + i)));
  await waitFor(async () => outOfRange(await copies(h.client, liveAddrs()), R) === 0, 10_000, "R copies");
  const victim = h.cluster.nodes[0]!;
  await victim.stop("SIGKILL");
  const killedAt = performance.now();
  await waitFor(
    async () => outOfRange(await copies(h.client, liveAddrs()), R) === 0,
    GRACE_MS + 20_000,
    "every object back at R copies on the 3 live nodes",
  );
  const healedMs = performance.now() - killedAt;
  // The grace counts from the last heartbeat (every 200 ms here); the rest is the watch, the
  // debounce and the copies.
  console.log(`# back at R copies ${Math.round(healedMs)} ms after the kill (grace ${GRACE_MS} ms)`);
  // Without the round a membership change starts, the next would come with the period (10 min).
  assert.ok(healedMs < GRACE_MS + 20_000, `${Math.round(healedMs)} ms`);
  await allReadable(files);
});
