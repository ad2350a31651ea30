/**
 * Micro benchmark of the node's store on small objects: the same objects written and read back
 * through ObjectStore with every object a file of its own (`packs: false`) and with pack files
 * (`packs: true`, group-committed batches), in turns, each in a fresh data directory, fsync on.
 * Objects/s and the process's CPU per object (user + system, all threads) for each, and the
 * fdatasync batches the packs needed. Every read is checked against what was written.
 *
 *   npx node bench/store-small.ts [--objects 2000] [--size 4096] [--concurrency 16] [--runs 3] [--dir D]
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ObjectStore } from "../src/node/store/index.ts";
import { median } from "./lib/measure.ts";
import { fixed, markdownTable } from "./lib/table.ts";

const { values } = parseArgs({
  options: {
    objects: { type: "string", default: "2000" },
    size: { type: "string", default: "4096" },
    concurrency: { type: "string", default: "16" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: tmpdir() },
  },
});
const objects = Number(values.objects);
const size = Number(values.size);
const concurrency = Number(values.concurrency);
const runs = Number(values.runs);

interface Phase {
  perSec: number;
  cpuMicros: number;
}

/** Runs `work(i)` for every object, `concurrency` at a time; rate and CPU per object. */
async function phase(work: (i: number) => Promise<void>): Promise<Phase> {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < objects) await work(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSec: objects / seconds, cpuMicros: (used.user + used.system) / objects };
}

async function measure(packs: boolean): Promise<{ write: Phase; read: Phase; batches: number }> {
  const dataDir = await mkdtemp(join(values.dir, "dfs-store-bench-"));
  const bodies = Array.from({ length: objects }, () => randomBytes(size));
  const ids = bodies.map((b) => createHash("sha256").update(b).digest("hex"));
  // No cache: the read phase measures the disk path (a pread, or an open/fstat/read/close).
  const store = await ObjectStore.open({
    dataDir,
    fsync: true,
    reserveBytes: 0,
    capacityBytes: 0,
    maxObjectBytes: 1024 * 1024,
    cacheBytes: 0,
    packs,
  });
  try {
    const write = await phase(async (i) => {
      const w = await store.createWriter({ kind: "chunk", id: ids[i]!, size });
      w.end(bodies[i]!);
      await w.commit();
    });
    const read = await phase(async (i) => {
      const into = Buffer.allocUnsafe(size);
      const { source } = await store.openSource("chunk", ids[i]!);
      let at = 0;
      for (let n = await source.read(into); n > 0; n = await source.read(into.subarray(at))) at += n;
      await source.close();
      if (at !== size || !into.equals(bodies[i]!)) throw new Error(`object ${i} read back wrong`);
    });
    return { write, read, batches: store.counters.packBatches };
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const results: Record<"files" | "packs", Awaited<ReturnType<typeof measure>>[]> = { files: [], packs: [] };
for (let run = 0; run < runs; run++) {
  // In turns, so that a change in the machine's speed touches both sides alike.
  results.files.push(await measure(false));
  results.packs.push(await measure(true));
}

console.log(
  `store, ${objects} objects of ${size} bytes, ${concurrency} at a time, fsync on, no cache; median of ${runs}`,
);
const rows = (["files", "packs"] as const).map((side) => {
  const r = results[side];
  const m = (f: (x: (typeof r)[number]) => number) => median(r.map(f));
  return [
    side,
    fixed(m((x) => x.write.perSec)),
    fixed(m((x) => x.write.cpuMicros)),
    fixed(m((x) => x.read.perSec)),
    fixed(m((x) => x.read.cpuMicros)),
    side === "packs" ? fixed(m((x) => x.batches)) : "-",
  ];
});
console.log(
  markdownTable(
    ["layout", "writes/s", "CPU µs per write", "reads/s", "CPU µs per read", "fdatasync batches"],
    rows,
    [1, 2, 3, 4, 5],
  ),
);
