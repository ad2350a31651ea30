/**
 * A node registered under two addresses (a second record that names a port relaying to it): repair
 * must count it once. Taken for a fourth node, it becomes an "owner" holding whatever the real node
 * holds, so a node that is not an owner by its own address drops its copy once "all R owners"
 * confirmed, one of them being itself or the node it aliases: real copies fall below R.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { NodeMembership } from "../src/registry/index.ts";
import type { NodeClient } from "../src/transport/index.ts";
import { type Alias, registerAs, startAlias } from "./helpers/alias.ts";
import type { NodeProc } from "./helpers/cluster.ts";
import { sha256 } from "./helpers/data.ts";
import { type Cluster, type Gateway, waitFor, waitLive } from "./helpers/gateway.ts";
import { copies, startHealTopology, stopHealTopology } from "./helpers/heal.ts";

const PREFIX = "healalias:";
let cluster: Cluster;
let gw: Gateway;
let client: NodeClient;
let alias: Alias | undefined;
let record: NodeMembership | undefined;

before(async () => {
  // Bare chunks, referenced by no manifest: garbage collection must not take them meanwhile.
  ({ cluster, gw, client } = await startHealTopology(3, PREFIX, { DFS_GC_GRACE_MS: "3600000" }));
});

after(async () => {
  await record?.close();
  await alias?.close();
  await stopHealTopology({ cluster, gw, client });
});

function repairRounds(n: NodeProc): Record<string, unknown>[] {
  return n.proc.logs.filter((l) => l.msg === "heal: round done" && l.round === "repair");
}

test("a node reachable under a second registered address is counted once: no copy is dropped", async () => {
  const [a, b, c] = cluster.nodes as [NodeProc, NodeProc, NodeProc];
  // 60 chunks on all three nodes: with R = 3 and three nodes, every node owns every chunk.
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    const data = randomBytes(2000);
    const id = sha256(data);
    ids.push(id);
    for (const n of [a, b, c]) await client.put(n.addr, id, data, data.length);
  }
  alias = await startAlias(a.addr);
  const config = cluster.topology.redisConfig({
    prefix: PREFIX,
    heartbeatIntervalMs: 200,
    heartbeatTtlMs: 2000,
  });
  record = await registerAs(config, "e".repeat(32), alias.addr);
  await waitLive(gw.url, 4);
  // Once every node's view lists the alias (a resync is at most 2 s), six more repair rounds each.
  await new Promise((r) => setTimeout(r, 2500));
  const from = new Map(cluster.nodes.map((n) => [n, repairRounds(n).length]));
  await waitFor(
    () => cluster.nodes.every((n) => repairRounds(n).length >= from.get(n)! + 6),
    30_000,
    "six repair rounds on every node",
  );
  assert.ok(alias.accepted > 0, "nobody dialled the alias: the test shows nothing");
  for (const n of cluster.nodes) {
    const last = repairRounds(n).at(-1)!;
    assert.equal(last.dropped, 0, `${n.addr} dropped copies it counted twice`);
  }
  const held = await copies(
    client,
    cluster.nodes.map((n) => n.addr),
  );
  for (const id of ids)
    assert.equal(held.get(`chunk:${id}`)?.length, 3, `chunk ${id} is not on all three nodes`);
});
