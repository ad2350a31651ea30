/**
 * Which embedded engine a node's tables use: lmdb (lmdb-js) against node:sqlite (on the main
 * thread, and with a writer thread), each in a fresh directory on the same disk, doing what a
 * table does (bench/lib/table-engines.ts): durable single-record writes from many concurrent
 * callers (each waits for its own commit; the engine groups them), point reads, range reads of
 * 1,000 records, and a table of --records records opened by a fresh process (open time, RSS).
 * Ceilings from the same run: an append + fdatasync per batch of the same callers (the disk's
 * group commit, as the node's packs do it), an in-memory Map and array for reads, a bare node
 * process for RSS. RSS "warm" is after 100,000 point reads and 300 ranges, and counts the pages
 * of a memory-mapped file (lmdb) that were read; "anon" is the process's own memory alone.
 *
 *   npx node bench/table-engine.ts [--records 1000000] [--writes 4000] [--callers 64] [--dir D]
 *                                  [--engines lmdb,lmdb-overlap,sqlite,sqlite-worker]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { quantile } from "./lib/measure.ts";
import { fixed, markdownTable } from "./lib/table.ts";
import {
  type BenchEngine,
  openLmdb,
  openSqliteMain,
  openSqliteWorker,
  type Put,
} from "./lib/table-engines.ts";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    writes: { type: "string", default: "4000" },
    callers: { type: "string", default: "64" },
    dir: { type: "string", default: tmpdir() },
    engines: { type: "string", default: "lmdb,lmdb-overlap,sqlite,sqlite-worker" },
    "child-open": { type: "string" },
  },
});
const RECORDS = Number(values.records);
const WRITES = Number(values.writes);
const CALLERS = Number(values.callers);
const PER_PARTITION_KEY = 10_000;
const POINT_READS = 100_000;
const RANGES = 300;
const RANGE = 1000;

const ENGINES: Record<string, (dir: string) => Promise<BenchEngine>> = {
  lmdb: (dir) => openLmdb(dir, false),
  "lmdb-overlap": (dir) => openLmdb(dir, true),
  sqlite: async (dir) => openSqliteMain(dir),
  "sqlite-worker": (dir) => openSqliteWorker(dir),
};

/** Record i's key as a node lays it out: partition, table, partition key, sort key. */
function keyOf(i: number): Buffer {
  const group = Math.floor(i / PER_PARTITION_KEY);
  const pk = Buffer.alloc(16);
  pk.writeUInt32BE(group);
  const sk = Buffer.from(`key-${String(i % PER_PARTITION_KEY).padStart(8, "0")}`);
  const head = Buffer.alloc(2 + 1 + 7 + 2);
  head.writeUInt16BE((group * 40503) & 0xffff, 0);
  head[2] = 7;
  head.write("objects", 3);
  head.writeUInt16BE(16, 10);
  return Buffer.concat([head, pk, sk]);
}

const WRITER = Buffer.from("f".repeat(36));
let hlc = BigInt(Date.now()) << 16n;
/** 8-byte version, flags, writer id, 64 bytes of value: ~110 bytes, a small record. */
function recordValue(): Buffer {
  const v = Buffer.alloc(8 + 1 + 1 + WRITER.length + 64);
  v.writeBigUInt64BE(hlc++);
  v[9] = WRITER.length;
  WRITER.copy(v, 10);
  randomBytes(64).copy(v, 10 + WRITER.length);
  return v;
}

interface Writes {
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  loopMaxMs: number;
  cpuMicros: number;
}

/** WRITES single-record writes, CALLERS at a time, keys spread over the table. */
async function writes(apply: (put: Put) => Promise<unknown>): Promise<Writes> {
  const keys = Array.from({ length: WRITES }, (_, i) => keyOf(RECORDS + i * 7919));
  const latencies: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let next = 0;
  const cpu = process.cpuUsage();
  loop.enable();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < WRITES) {
        const put = { key: keys[next++]!, value: recordValue() };
        const t = performance.now();
        await apply(put);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  loop.disable();
  const used = process.cpuUsage(cpu);
  return {
    perSec: WRITES / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    loopMaxMs: loop.max / 1e6,
    cpuMicros: (used.user + used.system) / WRITES,
  };
}

/** The ceiling: every write of a turn appended to one file and fdatasynced once. */
async function appendCeiling(dir: string): Promise<Writes> {
  const file = await open(join(dir, "append.log"), "a");
  let queue: { put: Put; done: () => void }[] = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      await file.writev(batch.flatMap((b) => [b.put.key, b.put.value]));
      await file.datasync();
      for (const b of batch) b.done();
    }
    draining = false;
  };
  const result = await writes(
    (put) =>
      new Promise<void>((done) => {
        queue.push({ put, done });
        if (!draining) void drain();
      }),
  );
  await file.close();
  return result;
}

async function fill(engine: BenchEngine): Promise<number> {
  const started = performance.now();
  for (let at = 0; at < RECORDS; at += 10_000) {
    const n = Math.min(10_000, RECORDS - at);
    await engine.apply(Array.from({ length: n }, (_, i) => ({ key: keyOf(at + i), value: recordValue() })));
  }
  return (performance.now() - started) / 1000;
}

function pointReads(get: (key: Buffer) => Buffer | undefined): number {
  const keys = Array.from({ length: POINT_READS }, (_, i) => keyOf((i * 104729) % RECORDS));
  const started = performance.now();
  for (const key of keys) if (get(key) === undefined) throw new Error("a record is missing");
  return ((performance.now() - started) * 1000) / POINT_READS;
}

function rangeReads(range: (start: Buffer, end: Buffer) => number): number {
  const groups = Math.max(1, Math.floor(RECORDS / PER_PARTITION_KEY));
  const perGroup = Math.min(PER_PARTITION_KEY, RECORDS);
  const started = performance.now();
  for (let r = 0; r < RANGES; r++) {
    const group = (r * 31) % groups;
    const first = group * PER_PARTITION_KEY + ((r * 977) % Math.max(1, perGroup - RANGE));
    const start = keyOf(first);
    const end = keyOf(group * PER_PARTITION_KEY + perGroup - 1);
    if (range(start, end) <= 0) throw new Error("an empty range");
  }
  return (performance.now() - started) / RANGES;
}

function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

/** The anonymous part of RSS (heap, malloc): what is not the binary's or a mapped file's pages. */
function anonMiB(): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** In a fresh process: open the filled table, one read, RSS; then reads, RSS again. */
async function childOpen(name: string, dir: string): Promise<void> {
  const before = rssMiB();
  const started = performance.now();
  const engine = await ENGINES[name]!(dir);
  if (engine.get(keyOf(0)) === undefined) throw new Error("record 0 is missing");
  const openMs = performance.now() - started;
  const opened = rssMiB();
  pointReads((k) => engine.get(k));
  rangeReads((s, e) => engine.range(s, e, RANGE));
  const warm = rssMiB();
  const anon = anonMiB();
  await engine.close();
  process.stdout.write(JSON.stringify({ before, openMs, opened, warm, anon }));
}

function openInChild(
  name: string,
  dir: string,
): { before: number; openMs: number; opened: number; warm: number; anon: number } {
  const out = execFileSync(
    process.execPath,
    [import.meta.filename, "--child-open", name, "--dir", dir, "--records", String(RECORDS)],
    { encoding: "utf8" },
  );
  return JSON.parse(out);
}

function du(dir: string): number {
  return Number(execFileSync("du", ["-sk", dir], { encoding: "utf8" }).split("\t")[0]) / 1024;
}

async function main(): Promise<void> {
  const names = values.engines.split(",");
  const rows: string[][] = [];
  const ceilingDir = await mkdtemp(join(values.dir, "dfs-table-bench-"));
  const ceiling = await appendCeiling(ceilingDir);
  await rm(ceilingDir, { recursive: true });
  for (const name of names) {
    const dir = await mkdtemp(join(values.dir, "dfs-table-bench-"));
    try {
      process.stderr.write(`${name}: writes\n`);
      const engine = await ENGINES[name]!(dir);
      const w = await writes((put) => engine.apply([put]));
      process.stderr.write(`${name}: fill ${RECORDS}\n`);
      const fillS = await fill(engine);
      const pointUs = pointReads((k) => engine.get(k));
      const rangeMs = rangeReads((s, e) => engine.range(s, e, RANGE));
      await engine.close();
      const o = openInChild(name, dir);
      rows.push([
        name,
        fixed(w.perSec),
        fixed(w.p50Ms, 1),
        fixed(w.p99Ms, 1),
        fixed(w.loopMaxMs, 1),
        fixed(w.cpuMicros),
        fixed(pointUs, 2),
        fixed(rangeMs, 2),
        fixed(fillS, 1),
        fixed(o.openMs, 1),
        `${fixed(o.opened)} / ${fixed(o.warm)} (${fixed(o.anon)})`,
        fixed(du(dir)),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const map = new Map<string, Buffer>();
  for (let i = 0; i < RECORDS; i++) map.set(keyOf(i).toString("latin1"), recordValue());
  const mapUs = pointReads((k) => map.get(k.toString("latin1")));
  const array = Array.from({ length: RANGE }, recordValue);
  const arrayMs = rangeReads(() => array.slice(0).reduce((n, v) => n + v.length, 0));
  const bare = JSON.parse(
    execFileSync(
      process.execPath,
      ["-e", "process.stdout.write(String(process.memoryUsage().rss/1048576))"],
      {
        encoding: "utf8",
      },
    ),
  ) as number;
  rows.push([
    "ceiling: append + fdatasync per batch; Map; array; bare node",
    fixed(ceiling.perSec),
    fixed(ceiling.p50Ms, 1),
    fixed(ceiling.p99Ms, 1),
    fixed(ceiling.loopMaxMs, 1),
    fixed(ceiling.cpuMicros),
    fixed(mapUs, 2),
    fixed(arrayMs, 2),
    "",
    "",
    fixed(bare),
    "",
  ]);
  console.log(
    `\n${WRITES} durable single-record writes from ${CALLERS} callers; ${RECORDS} records of ~110 bytes for reads, open and RSS\n`,
  );
  console.log(
    markdownTable(
      [
        "engine",
        "writes/s",
        "p50 ms",
        "p99 ms",
        "worst loop delay ms",
        "CPU µs/write",
        "point read µs",
        "range 1,000 ms",
        "fill s",
        "open ms",
        "RSS MiB open / warm (anon)",
        "disk MiB",
      ],
      rows,
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
  );
}

if (values["child-open"] !== undefined) await childOpen(values["child-open"], values.dir);
else await main();
