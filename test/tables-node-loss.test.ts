/**
 * Table records after a node loss, end to end: real Redis under Sentinel, four real `dfs node`
 * processes (R = 3, W = 2). Records written at their placement owners must be back at R copies on
 * the survivors once the killed node is past its grace, carried by anti-entropy (the round a
 * membership change starts: digests between owners, and the hand-off of partitions a node now owns).
 * Each node's own table is asked over TABLE_READ point reads to that node alone.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { TableRecord } from "../src/formats/index.ts";
import { Placement, type PlacementNode, recordPlacementId } from "../src/placement/index.ts";
import { testNodeClient } from "./helpers/cluster.ts";
import { http, waitFor, waitLive } from "./helpers/gateway.ts";
import { type HealTopology, startHealTopology, stopHealTopology } from "./helpers/heal.ts";
import { heldBy, sameRecord, tableClient } from "./helpers/tables.ts";

const TABLE = "objects";
const GRACE_MS = 3000;
let h: HealTopology;
const gateway = testNodeClient("gateway", "test-gateway");

before(async () => {
  h = await startHealTopology(4, "tblloss:", {
    // Rounds come from membership changes here, not from the period.
    DFS_REPAIR_INTERVAL_MS: "600000",
    DFS_REPAIR_GRACE_MS: String(GRACE_MS),
  });
});

after(async () => {
  await gateway.close();
  await stopHealTopology(h);
});

async function liveNodes(): Promise<PlacementNode[]> {
  const res = await http(h.gw.url, "GET", "/v1/nodes");
  return (res.json as { nodes: (PlacementNode & { state: string })[] }).nodes.filter(
    (n) => n.state === "live",
  );
}

const key = (r: TableRecord) => [r.table, r.partitionKey, r.sortKey] as const;

/** Which of `addrs` hold exactly `r`. */
async function holders(r: TableRecord, addrs: readonly string[]): Promise<string[]> {
  const held = await Promise.all(addrs.map(async (a) => sameRecord(await heldBy(gateway, a, ...key(r)), r)));
  return addrs.filter((_, i) => held[i]);
}

test("records acknowledged at W are back at R copies on the survivors after an owner is killed", async () => {
  const placement = new Placement(await liveNodes());
  const owners = (pid: string) =>
    placement
      .order(pid)
      .slice(0, 3)
      .map((n) => n.addr);
  const written: TableRecord[] = [];
  for (let i = 0; i < 60; i++) {
    const pk = Buffer.from(`bucket-${i}`);
    const order = owners(recordPlacementId(TABLE, pk));
    const one = tableClient(gateway, () => order);
    written.push(
      ...(await one.write([
        {
          table: TABLE,
          partitionKey: pk,
          sortKey: Buffer.from(`key-${i}`),
          value: Buffer.from(`value ${i}`),
        },
      ])),
    );
  }
  // Every record on its three owners before the loss (W = 2 acknowledged; the third follows).
  for (const r of written) {
    const mine = owners(recordPlacementId(TABLE, r.partitionKey));
    await waitFor(async () => (await holders(r, mine)).length === 3, 10_000, "each record on its R owners");
  }
  // The victim: the node owning the most of these records.
  const counts = new Map<string, number>();
  for (const r of written) {
    for (const a of owners(recordPlacementId(TABLE, r.partitionKey))) counts.set(a, (counts.get(a) ?? 0) + 1);
  }
  const victimAddr = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const lost = written.filter((r) => owners(recordPlacementId(TABLE, r.partitionKey)).includes(victimAddr));
  assert.ok(lost.length > 0 && lost.length < written.length, `the victim owns ${lost.length} of 60`);
  const victim = h.cluster.nodes.find((n) => n.addr === victimAddr)!;
  await victim.stop("SIGKILL");
  const killedAt = performance.now();
  await waitLive(h.gw.url, 3);
  const survivors = h.cluster.nodes.filter((n) => n !== victim).map((n) => n.addr);
  // Three survivors at R = 3: each now owns every partition, so each must hold every record.
  await waitFor(
    async () => {
      for (const r of written) if ((await holders(r, survivors)).length < 3) return false;
      return true;
    },
    60_000,
    "every record on all three survivors",
  );
  const ms = Math.round(performance.now() - killedAt);
  console.log(`# ${lost.length} records of the killed owner back at R copies ${ms} ms after the SIGKILL`);
  assert.ok(ms >= GRACE_MS, "nothing moves before the grace: a restart-sized absence moves no partition");
});
