/**
 * Anti-entropy of table records end to end: real Redis under Sentinel, three real `dfs node`
 * processes (R = 3, W = 2), records written over TABLE_WRITE by a gateway's credential. Repair's
 * period is ten minutes, longer than these tests wait: what carries records is the round a
 * membership change starts (a node leaving, coming back), comparing the "tables" digest trees.
 * Nothing reads through a quorum client here, so no read-repair: each node's own table is asked
 * over TABLE_READ point reads to that node alone.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TableRecord } from "../src/formats/index.ts";
import type { NodeProc } from "./helpers/cluster.ts";
import { testNodeClient } from "./helpers/cluster.ts";
import { http, waitFor, waitLive } from "./helpers/gateway.ts";
import { type HealTopology, startHealTopology, stopHealTopology } from "./helpers/heal.ts";
import { heldBy, sameRecord, tableClient } from "./helpers/tables.ts";

const TABLE = "objects";
let h: HealTopology;
const gateway = testNodeClient("gateway", "test-gateway");

before(async () => {
  h = await startHealTopology(3, "tblsync:", {
    DFS_REPAIR_INTERVAL_MS: "600000",
    DFS_REPAIR_GRACE_MS: "6000",
  });
});

after(async () => {
  await gateway.close();
  await stopHealTopology(h);
});

const running = (n: NodeProc) => n.proc.child.exitCode === null && n.proc.child.signalCode === null;
const liveAddrs = () => h.cluster.nodes.filter(running).map((n) => n.addr);

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
}

async function counters(): Promise<Map<string, Heal>> {
  const res = await http(h.gw.url, "GET", "/v1/nodes");
  const nodes = (res.json as { nodes: { addr: string; heal?: Heal; state: string }[] }).nodes;
  return new Map(nodes.filter((n) => n.heal && n.state === "live").map((n) => [n.addr, n.heal!]));
}

const key = (r: TableRecord) => [r.table, r.partitionKey, r.sortKey] as const;

test("records and a deletion written while an owner is down reach it by sync alone", async () => {
  const client = tableClient(gateway, liveAddrs);
  const kept = await client.write([
    {
      table: TABLE,
      partitionKey: Buffer.from("before"),
      sortKey: Buffer.from("doomed"),
      value: Buffer.from("v1"),
    },
  ]);
  const node2 = h.cluster.nodes[2]!.addr;
  await waitFor(
    async () => sameRecord(await heldBy(gateway, node2, ...key(kept[0]!)), kept[0]),
    10_000,
    "node 2 holding the first record",
  );
  const restart = await stopNode(2);
  // W = 2 of the two live owners: acknowledged without node 2.
  const written: TableRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const pk = `bucket-${i % 7}`;
    written.push(
      ...(await client.write([
        {
          table: TABLE,
          partitionKey: Buffer.from(pk),
          sortKey: Buffer.from(`k${i}`),
          value: Buffer.from(`value ${i}`),
        },
      ])),
    );
  }
  const [deletion] = await client.write([
    { table: TABLE, partitionKey: Buffer.from("before"), sortKey: Buffer.from("doomed"), deleted: true },
  ]);
  assert.equal(deletion!.deleted, true);
  await restart();
  const t0 = performance.now();
  await waitFor(
    async () => {
      for (const r of [...written, deletion!]) {
        if (!sameRecord(await heldBy(gateway, node2, ...key(r)), r)) return false;
      }
      return true;
    },
    20_000,
    "node 2 holding every record written while it was down, and the deletion",
  );
  console.log(`# caught up ${Math.round(performance.now() - t0)} ms after the node came back`);
  const doomed = await heldBy(gateway, node2, ...key(kept[0]!));
  assert.equal(doomed?.deleted, true, "the deletion won over the write node 2 held");
  const peers = liveAddrs().filter((a) => a !== node2);
  const c = await waitFor(
    async () => {
      const now = await counters();
      const repaired = peers.reduce((n, a) => n + (now.get(a)?.syncRepaired ?? 0), 0);
      return repaired >= written.length + 1 && now;
    },
    10_000,
    "the peers' counters showing the records pushed",
  );
  const differences = peers.reduce((n, a) => n + c.get(a)!.syncDifferences, 0);
  assert.ok(differences >= written.length + 1, `differences found: ${differences}`);
});

test("a round in sync exchanges the root digests only, the tables' tree too", async () => {
  // Let the previous round's pushes settle everywhere.
  await sleep(2000);
  const quiet = await counters();
  const restart = await stopNode(2);
  await sleep(1500);
  await restart();
  const stayed = h.cluster.nodes.slice(0, 2).map((n) => n.addr);
  const now = await waitFor(
    async () => {
      const c = await counters();
      return stayed.every((a) => c.get(a)!.syncRounds >= quiet.get(a)!.syncRounds + 2) && c;
    },
    15_000,
    "two more rounds on each node that stayed",
  );
  // A SYNC root request: 12-byte header, op, tree, the 8 KiB partition set, 16-byte tag; its
  // answer: header, u16 count, one 36-byte digest, tag.
  const ROOT_EXCHANGE = 12 + 2 + 8192 + 16 + (12 + 2 + 36 + 16);
  for (const addr of stayed) {
    const [was, is] = [quiet.get(addr)!, now.get(addr)!];
    const requests = is.syncRequests - was.syncRequests;
    console.log(`# ${addr}: ${is.syncRounds - was.syncRounds} rounds, ${requests} requests`);
    // Chunks, manifests and tables: three roots per peer and round.
    assert.ok(requests >= 3 * (is.syncRounds - was.syncRounds), "one request per peer and tree");
    assert.equal(requests % 3, 0, "three trees per peer");
    assert.equal(is.syncBytes - was.syncBytes, requests * ROOT_EXCHANGE, "root digests only");
    assert.equal(is.syncDifferences, was.syncDifferences, "no difference found");
  }
});
