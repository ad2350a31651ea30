/**
 * Self-healing counters made visible: each node publishes them with its registry record,
 * the gateway serves them in `GET /v1/nodes` and as `dfs_node_*` series in `/metrics`, and
 * `dfs status` prints them. Real Redis under Sentinel, four real `dfs node` processes (R = 3, scrub
 * every 500 ms, GC grace 1 s), a gateway in this process, the real CLI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { request } from "undici";
import type { NodeProc } from "./helpers/cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  waitFor,
  waitLive,
} from "./helpers/gateway.ts";
import {
  chunkIds as chunkIdsOf,
  flipStored,
  HEAL_ENV,
  nodeClient,
  readStored,
  storedCopy,
  upload,
  waitChunksCollected,
} from "./helpers/heal.ts";
import { CLI } from "./helpers/proc.ts";

const run = promisify(execFile);

let cluster: Cluster;
let gw: Gateway;

before(async () => {
  cluster = await startCluster(4, "healvis:", { ...HEAL_ENV, DFS_SCRUB_INTERVAL_MS: "500" });
  gw = await startGatewayInProcess(cluster, { "chunk-size": String(SMALL_CHUNK) });
  await waitLive(gw.url, 4);
});

after(async () => {
  await gw?.stop();
  await cluster?.stop();
});

const chunkIds = (hash: string) => chunkIdsOf(gw.url, hash);

/** Size of the node's copy of a chunk, 0 when it holds none. */
async function sizeOn(node: NodeProc, id: string): Promise<number> {
  return (await storedCopy(node.dataDir, "chunk", id))?.length ?? 0;
}

/** `name{node="<id>"}` samples of a Prometheus text exposition, by node id. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{node="([^"]+)"\\} (\\S+)$`, "gm");
  for (const m of text.matchAll(re)) out.set(m[1]!, Number(m[2]));
  return out;
}

async function metrics(): Promise<string> {
  const res = await request(`${gw.url}/metrics`);
  assert.equal(res.statusCode, 200);
  return res.body.text();
}

interface NodeJson {
  id: string;
  heal?: Record<string, number>;
}

test("quarantined and collected counters reach /metrics, /v1/nodes and dfs status for the right nodes", async () => {
  const nodes = cluster.nodes;
  // A: one of its chunks gets a flipped byte on one holder, which scrub must quarantine.
  const a = await upload(gw.url, patternBytes(2 * SMALL_CHUNK, 31));
  const [flippedId] = await chunkIds(a.hash);
  const sick = (
    await Promise.all(nodes.map(async (n) => ((await sizeOn(n, flippedId!)) > 0 ? n : undefined)))
  )
    .filter((n) => n !== undefined)
    .at(0)!;
  await flipStored(sick.dataDir, "chunk", flippedId!);

  // B: deleted, so GC collects its chunks wherever they are; what each node should free is what
  // it holds (asked over the protocol: B's short last chunk is in a pack, not a file of its own).
  const client = nodeClient();
  const b = await upload(gw.url, patternBytes(3 * SMALL_CHUNK + 100, 32));
  const bIds = await chunkIds(b.hash);
  const expectedBytes = new Map<string, number>();
  for (const n of nodes) {
    let sum = 0;
    for (const id of bIds) {
      if ((await client.has(n.addr, [id]))[0]) sum += (await client.getBuffer(n.addr, id)).length;
    }
    expectedBytes.set(n.nodeId, sum);
  }
  assert.ok(
    [...expectedBytes.values()].reduce((x, y) => x + y) >= 3 * 3 * SMALL_CHUNK,
    "B's chunks at R copies",
  );
  assert.equal((await http(gw.url, "DELETE", `/v1/files/${b.hash}`)).status, 204);

  try {
    await waitFor(
      async () =>
        sha256((await readStored(sick.dataDir, "chunk", flippedId!)) ?? Buffer.alloc(0)) === flippedId,
      15_000,
      "scrub to quarantine and replace the corrupt copy",
    );
    await waitChunksCollected(
      client,
      () => nodes.map((n) => n.addr),
      bIds,
      20_000,
      "B's chunks collected on every node",
    );
  } finally {
    await client.close();
  }

  // /metrics, once the gateway's view has read the records of the nodes' next heartbeats.
  const text = await waitFor(
    async () => {
      const t = await metrics();
      const collected = samples(t, "dfs_node_collected_bytes_total");
      const quarantined = samples(t, "dfs_node_quarantined_total");
      const done =
        quarantined.get(sick.nodeId) === 1 &&
        nodes.every((n) => collected.get(n.nodeId) === expectedBytes.get(n.nodeId));
      return done && t;
    },
    15_000,
    "the counters in /metrics",
  );
  for (const n of nodes) {
    if (n !== sick) assert.equal(samples(text, "dfs_node_quarantined_total").get(n.nodeId), 0, n.nodeId);
    assert.ok(samples(text, "dfs_node_under_replicated").has(n.nodeId), `under-replicated of ${n.nodeId}`);
    assert.ok((samples(text, "dfs_node_scrubbed_total").get(n.nodeId) ?? 0) > 0, `scrubbed on ${n.nodeId}`);
  }
  assert.ok((samples(text, "dfs_node_restored_total").get(sick.nodeId) ?? 0) >= 1, "the bad copy restored");
  const collectedCount = samples(text, "dfs_node_collected_total");
  for (const n of nodes) {
    assert.equal((collectedCount.get(n.nodeId) ?? 0) > 0, expectedBytes.get(n.nodeId)! > 0, n.nodeId);
  }
  assert.match(text, /^# TYPE dfs_node_collected_bytes_total counter$/m);
  assert.match(text, /^# TYPE dfs_node_under_replicated gauge$/m);
  assert.match(text, /^dfs_node_heal_rounds_total\{node="[^"]+",round="gc"\} [1-9]/m);
  // Every repair round compared digests with the peers: sync rounds and their requests counted.
  for (const n of nodes) {
    assert.ok(
      (samples(text, "dfs_node_sync_requests_total").get(n.nodeId) ?? 0) > 0,
      `sync requests of ${n.nodeId}`,
    );
    assert.ok(
      (samples(text, "dfs_node_sync_bytes_total").get(n.nodeId) ?? 0) > 0,
      `sync bytes of ${n.nodeId}`,
    );
    assert.ok(samples(text, "dfs_node_sync_differences_total").has(n.nodeId));
    assert.ok(samples(text, "dfs_node_sync_repaired_total").has(n.nodeId));
  }
  assert.match(text, /^dfs_node_heal_rounds_total\{node="[^"]+",round="sync"\} [1-9]/m);

  // /v1/nodes carries the same counters (the http helper checks the answer against openapi.yaml).
  const listed = await http(gw.url, "GET", "/v1/nodes");
  assert.equal(listed.status, 200);
  const byId = new Map((listed.json as { nodes: NodeJson[] }).nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    const heal = byId.get(n.nodeId)?.heal;
    assert.ok(heal, `heal of ${n.nodeId} in /v1/nodes`);
    assert.equal(heal.quarantined, n === sick ? 1 : 0);
    assert.equal(heal.collectedBytes, expectedBytes.get(n.nodeId));
  }

  // dfs status, the real CLI: --json carries them, the table prints them.
  const json = await run(process.execPath, [CLI, "status", "--json", "--gateway", gw.url], {
    encoding: "utf8",
  });
  const status = JSON.parse(json.stdout) as { ready: boolean; nodes: { nodes: NodeJson[] } };
  assert.equal(status.ready, true);
  const sickJson = status.nodes.nodes.find((n) => n.id === sick.nodeId);
  assert.equal(sickJson?.heal?.quarantined, 1);
  for (const n of status.nodes.nodes) assert.equal(n.heal?.collectedBytes, expectedBytes.get(n.id));

  const table = (await run(process.execPath, [CLI, "status", "--gateway", gw.url], { encoding: "utf8" }))
    .stdout;
  if (process.env.HEAL_DEBUG) console.log(table);
  assert.match(
    table,
    /^ID +UNDER-REPLICATED +REPAIRED +SCRUBBED +QUARANTINED +RESTORED +COLLECTED +TOMBSTONES EXPIRED$/m,
  );
  const row = table.split("\n").find((l) => l.startsWith(`${sick.nodeId} `) && l.includes("("));
  assert.ok(row, `a heal row for ${sick.nodeId}:\n${table}`);
  // ID, under-replicated, repaired "n (bytes)", scrubbed, quarantined, restored, collected "n (bytes)",
  // tombstones expired (none: the grace is days).
  const cells = row.split(/ {2,}/);
  assert.equal(cells[4], "1", `quarantined cell of ${row}`);
  assert.match(cells[6]!, /^\d+ \(\d+(\.\d)? (B|KiB|MiB)\)$/);
  assert.equal(cells[7], "0", `tombstones expired cell of ${row}`);
  // Anti-entropy: rounds, differences, repaired by sync, requests and bytes per round.
  assert.match(
    table,
    /^ID +SYNC ROUNDS +DIFFERENCES FOUND +REPAIRED BY SYNC +REQUESTS PER ROUND +BYTES PER ROUND$/m,
  );
  const syncRow = table
    .split("\n")
    .find((l) => l.startsWith(`${sick.nodeId} `) && / \d+(\.\d)? (B|KiB|MiB)$/.test(l));
  assert.ok(syncRow, `a sync row for ${sick.nodeId}:\n${table}`);
  assert.match(syncRow, new RegExp(`^${sick.nodeId} +[1-9]\\d* +\\d+ +\\d+ +\\d+(\\.\\d)? +`));
  // And the stores: the nodes that took the manifests and short chunks above packed them. Each
  // of those objects went to 3 of the 4 nodes (placement decides which), so at least two of any
  // three nodes hold one; a node that took none shows no batch ("-").
  assert.match(table, /^ID +CACHE HITS +PACKS +PACK BYTES \(LIVE\) +RECORDS PER BATCH +COMPACTIONS$/m);
  let packed = 0;
  for (const n of nodes.slice(0, 3)) {
    const storeRow = table.split("\n").find((l) => l.startsWith(`${n.nodeId} `) && l.includes(" of "));
    assert.ok(storeRow, `a store row for ${n.nodeId}:\n${table}`);
    const [, hits, packs, packBytes, perBatch] = storeRow.split(/ {2,}/);
    assert.match(hits!, /^\d+ of \d+$/);
    assert.ok(Number(packs) >= 1, storeRow);
    assert.match(packBytes!, /^\d+(\.\d)? (B|KiB|MiB) \(\d+(\.\d)? (B|KiB|MiB)\)$/);
    assert.match(perBatch!, /^(-|\d+(\.\d)?)$/, storeRow);
    if (Number(perBatch) >= 1) packed++;
  }
  assert.ok(packed >= 2, `fewer than two of three nodes packed anything:\n${table}`);
});

test("a node that leaves drops out of the dfs_node_* series", async () => {
  const leaving = cluster.nodes[3]!;
  assert.ok(samples(await metrics(), "dfs_node_scrubbed_total").has(leaving.nodeId));
  await leaving.stop("SIGTERM"); // deregisters at once
  await waitFor(
    async () => !samples(await metrics(), "dfs_node_scrubbed_total").has(leaving.nodeId),
    10_000,
    "the node gone from /metrics",
  );
  const left = samples(await metrics(), "dfs_node_scrubbed_total");
  assert.equal(left.size, 3);
});
