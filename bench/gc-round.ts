/**
 * One garbage-collection round of a node holding many chunks, each with its chunk references in the
 * node's tables (table chunk_refs: one manifest reference each, a share of them retracted past the
 * grace), as a member of clusters of 3 and of 6 nodes. The round reads only the node's own store
 * and tables: its CPU, wall time and requests to peers must not grow with the node count.
 * Each cluster size runs on its own copy of the same data folder (store and tables).
 *
 * The node is this process (ObjectStore and TableStore opened on a folder filled directly,
 * bench/sync/fill.ts); the peers' addresses are members of the view but nothing listens there: a
 * request to one would fail the round's tombstone step and show in the requests column.
 *
 *   npx node bench/gc-round.ts [--objects 1000000] [--retracted 0.01] [--dir D]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { CHUNK_REFS_TABLE, HybridClock, hlcOf, manifestRef, type TableRecord } from "../src/formats/index.ts";
import { newCounters } from "../src/node/heal/counters.ts";
import { GarbageCollector } from "../src/node/heal/gc.ts";
import type { Members } from "../src/node/heal/members.ts";
import { ObjectStore } from "../src/node/store/index.ts";
import { TableStore } from "../src/node/tables/index.ts";
import type { NodeApi } from "../src/transport/index.ts";
import { markdownTable } from "./lib/table.ts";
import { fillStore } from "./sync/fill.ts";

const { values } = parseArgs({
  options: {
    objects: { type: "string", default: "1000000" },
    retracted: { type: "string", default: "0.01" },
    dir: { type: "string", default: tmpdir() },
  },
});
const objects = Number(values.objects);
const retractedShare = Number(values.retracted);
const GRACE_MS = 1000;
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

/** A NodeApi that counts what a round would ask of peers, and answers nothing. */
function countingPeers(): { api: NodeApi; requests: () => number } {
  let requests = 0;
  const refuse = async (): Promise<never> => {
    requests++;
    throw new Error("a GC round asked a peer");
  };
  const api: NodeApi = {
    put: refuse,
    get: refuse,
    getBuffer: refuse,
    has: refuse,
    stat: refuse,
    list: refuse,
    ping: refuse,
    sync: refuse,
    tableWrite: refuse,
    tableRead: refuse,
    close: async () => {},
  };
  return { api, requests: () => requests };
}

const root = mkdtempSync(join(values.dir, "dfs-gc-bench-"));
try {
  const base = join(root, "base");
  let t = performance.now();
  await fillStore(base, { packedChunks: objects, manifests: 0, chunkFiles: 0, chunkBytes: 64, fileBytes: 0 });
  log(`filled ${objects} chunks in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // One manifest reference per chunk; a share of them retracted an hour ago (past the grace).
  t = performance.now();
  const store = await ObjectStore.open(storeOptions(base));
  const clock = new HybridClock();
  const tables = await TableStore.open({ path: join(base, "tables.mdb"), clock });
  const hourAgo = hlcOf(Date.now() - 3_600_000);
  const every = retractedShare > 0 ? Math.round(1 / retractedShare) : 0;
  let batch: TableRecord[] = [];
  let n = 0;
  let after: string | undefined;
  do {
    const page = await store.list("chunk", after, 1000);
    for (const id of page.ids) {
      const ref = manifestRef(id, id);
      const retract = every > 0 && n % every === 0;
      batch.push({
        table: CHUNK_REFS_TABLE,
        partitionKey: Buffer.from(id, "hex"),
        sortKey: ref.sortKey,
        version: { hlc: retract ? hourAgo : clock.now(), writer: "bench" },
        deleted: retract,
        value: retract ? Buffer.alloc(0) : ref.value,
      });
      n++;
    }
    if (batch.length >= 10_000) {
      await tables.apply(batch);
      batch = [];
    }
    after = page.next;
  } while (after !== undefined);
  await tables.apply(batch);
  await tables.close();
  await store.close();
  log(`references of ${n} chunks written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  // The chunks' files must be older than the grace to be collected.
  await new Promise((r) => setTimeout(r, GRACE_MS + 100));

  const rows: string[][] = [];
  for (const size of [3, 6]) {
    const dir = join(root, `cluster-${size}`);
    execFileSync("cp", ["-a", "--reflink=auto", base, dir]);
    const s = await ObjectStore.open(storeOptions(dir));
    const tb = await TableStore.open({ path: join(dir, "tables.mdb"), clock: new HybridClock() });
    const peers = countingPeers();
    const counters = newCounters();
    const gc = new GarbageCollector({
      store: s,
      tables: tb,
      nodes: peers.api,
      self: "127.0.0.1:1",
      gcGraceMs: GRACE_MS,
      tombstoneGraceMs: 10 * 86_400_000,
      counters,
      logger: pino({ level: "warn" }),
      signal: new AbortController().signal,
    });
    const addrs = Array.from({ length: size }, (_, i) => `127.0.0.1:${i + 1}`);
    const members: Members = {
      nodes: addrs.map((addr, i) => ({ id: `node-${i}`, addr, zone: "z", capacityBytes: 1 << 40 })),
      live: new Set(addrs),
    };
    const cpu = process.cpuUsage();
    const started = performance.now();
    await gc.round(members, false);
    const wallS = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    rows.push([
      String(size),
      String(objects),
      ((used.user + used.system) / 1e6).toFixed(2),
      wallS.toFixed(2),
      String(peers.requests()),
      String(counters.collected),
    ]);
    await tb.close();
    await s.close();
  }
  process.stdout.write(
    `${markdownTable(
      ["cluster nodes", "chunks held", "round CPU s", "round wall s", "requests to peers", "collected"],
      rows,
      [0, 1, 2, 3, 4, 5],
    )}\n`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}

function storeOptions(dataDir: string) {
  return {
    dataDir,
    fsync: false,
    reserveBytes: 0,
    capacityBytes: 0,
    maxObjectBytes: 1 << 26,
    packs: true,
  };
}
