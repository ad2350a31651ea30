/**
 * Micro benchmark of src/placement: the cost of an order at 10..1,000 nodes, cached and not, against
 * plain rendezvous with sha256 per node (estimated at ~2 ms at 1,000 nodes), and how
 * evenly owner slots spread over nodes for a given partition count.
 *
 *   npx node bench/placement.ts [--nodes 10,100,1000] [--partitions 65536] [--balance 10,300]
 *     [--balance-partitions 4096,65536]
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { partitionSalts, seedWords, unitScore } from "../src/placement/hash.ts";
import { DEFAULT_PARTITIONS, MAX_NODES, Placement, type PlacementNode } from "../src/placement/index.ts";
import { Ranker } from "../src/placement/rank.ts";
import { median } from "./lib/measure.ts";
import { fixed, markdownTable } from "./lib/table.ts";

const R = 3;

function nodesOf(n: number, zones: number): PlacementNode[] {
  return Array.from({ length: n }, (_, i) => ({
    id: createHash("sha256").update(`bench-node-${i}`).digest("hex").slice(0, 32),
    addr: `10.${(i >> 8) & 255}.${i & 255}.1:7000`,
    zone: `zone-${i % zones}`,
    capacityBytes: 4e12,
  }));
}

const objectIds = (count: number) =>
  Array.from({ length: count }, (_, i) => createHash("sha256").update(`object-${i}`).digest("hex"));

/** Microseconds per call of `fn(i)` for i in 0..count-1: the median of `runs` runs after a warm-up. */
function usPer(count: number, fn: (i: number) => unknown, runs = 5, fresh?: () => void): number {
  const times: number[] = [];
  for (let run = 0; run <= runs; run++) {
    fresh?.();
    const started = performance.now();
    for (let i = 0; i < count; i++) fn(i);
    if (run > 0) times.push(((performance.now() - started) * 1000) / count);
  }
  return median(times);
}

/** The ranking without rank.ts's packed-key sort: sort indexes with a comparator. */
function comparatorRank(nodes: readonly PlacementNode[]): (partition: number) => Uint32Array {
  const seeds = seedWords(nodes.map((n) => n.id));
  const keys = new Float64Array(nodes.length);
  return (partition) => {
    const [sa, sb] = partitionSalts(partition);
    for (let i = 0; i < keys.length; i++)
      keys[i] = -Math.log(unitScore(seeds, i, sa, sb)) / nodes[i]!.capacityBytes;
    const idx = Uint32Array.from(keys.keys());
    return idx.sort((a, b) => keys[a]! - keys[b]! || a - b);
  };
}

/** Plain rendezvous over every node, one sha256 per (object, node), no partitions. */
function sha256Order(nodes: readonly PlacementNode[], objectId: string): PlacementNode[] {
  const scored = nodes.map((n) => {
    const d = createHash("sha256").update(objectId).update(n.id).digest();
    const u = (d.readUInt32BE(0) * 2 ** 21 + (d.readUInt32BE(4) >>> 11) + 0.5) * 2 ** -53;
    return { n, key: -Math.log(u) / n.capacityBytes };
  });
  return scored.sort((a, b) => a.key - b.key).map((s) => s.n);
}

/** Owner slots per node (R copies per partition), relative to the mean: [min, max]. */
function spread(n: number, partitions: number): [number, number] {
  const nodes = nodesOf(n, 1);
  const ranker = new Ranker(
    seedWords(nodes.map((x) => x.id)),
    Float64Array.from(nodes, (x) => x.capacityBytes),
  );
  const out = new Uint32Array(n);
  const slots = new Uint32Array(n);
  for (let p = 0; p < partitions; p++) {
    ranker.rank(p, out);
    for (let r = 0; r < Math.min(R, n); r++) slots[out[r]!]!++;
  }
  const mean = (partitions * Math.min(R, n)) / n;
  return [Math.min(...slots) / mean, Math.max(...slots) / mean];
}

function main(): void {
  const { values } = parseArgs({
    options: {
      nodes: { type: "string", default: "10,100,1000" },
      partitions: { type: "string", default: String(DEFAULT_PARTITIONS) },
      balance: { type: "string", default: "10,30,100,300,1000" },
      "balance-partitions": { type: "string", default: "4096,16384,65536" },
    },
  });
  const list = (text: string) => text.split(",").map(Number);
  const partitions = Number(values.partitions);
  const ids = objectIds(100_000);
  const rows: string[][] = [];
  for (const n of list(values.nodes)) {
    const nodes = nodesOf(n, 3);
    const buildMs = usPer(1, () => new Placement(nodes, { partitions })) / 1000;
    // Uncached: a fresh Placement per run, each of its first `sample` partitions asked once.
    let p = new Placement(nodes, { partitions });
    const sample = Math.min(partitions, 1024);
    const uncached = usPer(
      sample,
      (i) => p.partitionOrder(i),
      5,
      () => {
        p = new Placement(nodes, { partitions });
      },
    );
    let whole = new Placement(nodes, { partitions, orderLength: MAX_NODES });
    const fullOrder = usPer(
      sample,
      (i) => whole.partitionOrder(i),
      5,
      () => {
        whole = new Placement(nodes, { partitions, orderLength: MAX_NODES });
      },
    );
    const rank = comparatorRank(nodes);
    const comparator = usPer(sample, (i) => rank(i));
    // What a membership change costs a process that goes on to use every partition.
    p = new Placement(nodes, { partitions });
    const allStarted = performance.now();
    for (let i = 0; i < partitions; i++) p.partitionOrder(i);
    const allMs = performance.now() - allStarted;
    const cached = usPer(ids.length, (i) => p.order(ids[i]!));
    const cachedOwners = usPer(ids.length, (i) => p.owners(ids[i]!, R));
    const sha = usPer(Math.max(20, Math.floor(100_000 / n)), (i) => sha256Order(nodes, ids[i]!), 3);
    rows.push([
      String(n),
      fixed(buildMs, 2),
      fixed(uncached, 1),
      fixed(fullOrder, 1),
      fixed(comparator, 1),
      fixed(allMs, 0),
      fixed(cached, 2),
      fixed(cachedOwners, 2),
      fixed(sha, 0),
    ]);
  }
  const balanceParts = list(values["balance-partitions"]);
  const balance = list(values.balance).map((n) => [
    String(n),
    ...balanceParts.map((parts) =>
      spread(n, parts)
        .map((x) => fixed(x, 2))
        .join(" - "),
    ),
  ]);
  const table = markdownTable(
    [
      "nodes",
      "new Placement ms",
      "order, uncached µs",
      "full order, uncached µs",
      "full, comparator sort µs",
      "every partition once, ms",
      "order, cached µs",
      "owners(R=3), cached µs",
      "sha256 rendezvous µs",
    ],
    rows,
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  const spreadTable = markdownTable(
    ["nodes", ...balanceParts.map((parts) => `${parts} partitions`)],
    balance,
    [0],
  );
  process.stdout.write(
    `Placement: ${partitions} partitions, 3 zones; medians of 5 runs, per object unless said\n\n${table}\n\n` +
      `Owner slots per node (R=${R}, equal capacity, one zone): min - max, relative to the mean\n\n${spreadTable}\n`,
  );
}

main();
