/**
 * One repair round of a node holding a million objects with two peers holding the same (R = 3:
 * every partition shared with both), finding what to repair by comparing digests (sync), beside
 * the walk of everything held that repair did before (the plan applied to every id held, a page of
 * 500 at a time, one HAS per owner per page, each manifest's version read from every holder), in
 * the same run; then sync rounds with 100 and 10,000 differences (objects the peers lack).
 *
 * The node is this process (its store opened on a data folder filled directly, bench/sync/fill.ts);
 * the peers are two `dfs node` processes on copies of that folder, without a registry. Per round:
 * the node's CPU seconds (this process: user + system), the peers' (from /proc), the node's read
 * syscalls and bytes read from the disk (/proc/self/io; disk and socket reads alike, the folders
 * being in the page cache), and the bytes on the node link (requests and answers as encoded, 28
 * bytes of header and tag per frame). Also the store's open with and without building digests.
 *
 *   npx node bench/sync-round.ts [--objects 1000000] [--manifests 100000] [--files 10000]
 *                                [--diffs 100,10000] [--no-walk] [--dir D]
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { resolveTrust } from "../src/credentials/index.ts";
import { HybridClock } from "../src/formats/index.ts";
import { newCounters } from "../src/node/heal/counters.ts";
import { findWork, type Work } from "../src/node/heal/differences.ts";
import { Layouts } from "../src/node/heal/layout.ts";
import type { Members } from "../src/node/heal/members.ts";
import { type RepairDeps, repairIds, repairRound } from "../src/node/heal/repair.ts";
import { TokenBucket } from "../src/node/rate-limit.ts";
import { ObjectStore } from "../src/node/store/index.ts";
import { ObjectDigests } from "../src/node/sync/index.ts";
import { TableStore } from "../src/node/tables/index.ts";
import { NodeClient } from "../src/transport/index.ts";
import { startChild } from "./lib/procs.ts";
import { markdownTable } from "./lib/table.ts";
import { CountedNodes } from "./sync/counted.ts";
import { fillStore } from "./sync/fill.ts";

const { values } = parseArgs({
  options: {
    objects: { type: "string", default: "1000000" },
    manifests: { type: "string", default: "100000" },
    files: { type: "string", default: "10000" },
    diffs: { type: "string", default: "100,10000" },
    "no-walk": { type: "boolean", default: false },
    dir: { type: "string", default: tmpdir() },
    out: { type: "string", default: "bench/results" },
  },
});
const objects = Number(values.objects);
const manifests = Math.min(Number(values.manifests), objects);
const files = Math.min(Number(values.files), objects - manifests);
const diffs = values.diffs.split(",").filter(Boolean).map(Number);
const SECRET = "bench-sync-secret-0123456789";
const AUTHORITY = "b7".repeat(32);
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

/** What one round cost. */
interface Cost {
  name: string;
  wallS: number;
  cpuS: number;
  peersCpuS: number;
  requests: number;
  bytes: number;
  readCalls: number;
  diskReadBytes: number;
  differences: number;
  copies: number;
}

function io(): { syscr: number; readBytes: number } {
  const text = readFileSync("/proc/self/io", "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1] ?? 0);
  return { syscr: field("syscr"), readBytes: field("read_bytes") };
}

function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const root = mkdtempSync(join(values.dir, "dfs-sync-bench-"));
const dirs = ["node", "peer-a", "peer-b"].map((n) => join(root, n));
try {
  let t = performance.now();
  const written = await fillStore(dirs[0]!, {
    packedChunks: objects - manifests - files,
    manifests,
    chunkFiles: files,
    chunkBytes: 64,
    fileBytes: 1024,
  });
  log(`filled ${written} objects in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const peer of dirs.slice(1)) execFileSync("cp", ["-a", "--reflink=auto", dirs[0]!, peer]);

  const env = { DFS_CLUSTER_SECRET: SECRET, DFS_AUTHORITY_KEY: AUTHORITY, DFS_RESERVE: "0" };
  t = performance.now();
  const peers = await Promise.all(
    dirs.slice(1).map((dir, i) =>
      startChild({
        name: `peer-${i}`,
        args: ["src/cli/main.ts", "node", "--listen", "127.0.0.1:0", "--data", dir],
        env,
        isReady: (l) => l.msg === "node listening",
        timeoutMs: 600_000,
      }),
    ),
  );
  const peersStartS = (performance.now() - t) / 1000;

  // The store's open, as a node opens it at start: without digests, then with.
  const options = {
    dataDir: dirs[0]!,
    fsync: false,
    reserveBytes: 0,
    capacityBytes: 0,
    maxObjectBytes: 1 << 26,
    packs: true,
  };
  t = performance.now();
  const cpuPlain = process.cpuUsage();
  await (await ObjectStore.open(options)).close();
  const plainCpu = process.cpuUsage(cpuPlain);
  const plainOpenS = (performance.now() - t) / 1000;
  const memBefore = process.memoryUsage().arrayBuffers;
  const digests = new ObjectDigests();
  t = performance.now();
  const cpuOpen = process.cpuUsage();
  const store = await ObjectStore.open({ ...options, changes: digests });
  const openCpu = process.cpuUsage(cpuOpen);
  const digestOpenS = (performance.now() - t) / 1000;
  const digestsMiB = (process.memoryUsage().arrayBuffers - memBefore) / 2 ** 20;
  log(
    `store open: ${plainOpenS.toFixed(2)} s plain, ${digestOpenS.toFixed(2)} s with digests (${digests.chunks.size + digests.manifests.size} elements)`,
  );

  const trust = {
    ...resolveTrust(
      {
        authorityPublicKey: undefined,
        authoritySeed: Buffer.from(AUTHORITY, "hex"),
        identityText: undefined,
      },
      "node",
      "bench-node",
    ),
    secret: Buffer.from(SECRET),
  };
  const nodes = new CountedNodes(new NodeClient({ trust }));
  // Empty tables: a round in sync compares their root too (one request per peer).
  const tables = await TableStore.open({ path: join(root, "bench-tables.mdb"), clock: new HybridClock() });
  const self = "127.0.0.1:1";
  const member = (id: string, addr: string) => ({ id, addr, zone: "default", capacityBytes: 1e12 });
  const members: Members = {
    nodes: [member("bench-node", self), ...peers.map((p) => member(String(p.ready.nodeId), p.address))],
    live: new Set([self, ...peers.map((p) => p.address)]),
  };
  const abort = new AbortController();
  const deps: RepairDeps = {
    store,
    nodes,
    self,
    replicas: 3,
    bucket: new TokenBucket(1 << 30),
    counters: newCounters(),
    logger: pino({ level: "warn" }, pino.destination(2)),
    signal: abort.signal,
    tombstoneGraceMs: 10 * 86_400_000,
    signatures: undefined,
    digests,
    layouts: new Layouts(),
    tables,
  };

  const measure = async (name: string, round: () => Promise<unknown>): Promise<Cost> => {
    nodes.reset();
    const before = { ...deps.counters };
    const peerCpu = peers.map((p) => cpuOf(p.pid));
    const ioBefore = io();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = await round();
    const used = process.cpuUsage(cpu);
    const found =
      result !== null && typeof result === "object" && "differences" in result ? (result as Work) : undefined;
    const ioAfter = io();
    const cost: Cost = {
      name,
      wallS: (performance.now() - started) / 1000,
      cpuS: (used.user + used.system) / 1e6,
      peersCpuS: peers.reduce((s, p, i) => s + cpuOf(p.pid) - peerCpu[i]!, 0),
      requests: nodes.requests,
      bytes: nodes.bytes,
      readCalls: ioAfter.syscr - ioBefore.syscr,
      diskReadBytes: ioAfter.readBytes - ioBefore.readBytes,
      differences: deps.counters.syncDifferences - before.syncDifferences || (found?.differences ?? 0),
      copies: deps.counters.repaired - before.repaired,
    };
    log(
      `${name}: ${cost.wallS.toFixed(2)} s, ${cost.cpuS.toFixed(3)} CPU s, ${cost.requests} requests, ${cost.bytes} bytes`,
    );
    return cost;
  };
  const syncRound = () => repairRound(deps, members);
  const walk = async () => {
    const placement = deps.layouts.of(members, self, 3).placement;
    for (const kind of ["manifest", "chunk"] as const) {
      let after: string | undefined;
      do {
        const page = await store.list(kind, after, 10_000);
        await repairIds(deps, members, placement, kind, page.ids);
        after = page.next;
      } while (after !== undefined);
    }
  };

  const costs: Cost[] = [];
  costs.push(await measure("sync, first round (placement computed)", syncRound));
  costs.push(await measure("sync, in sync", syncRound));
  if (!values["no-walk"]) costs.push(await measure("walk of everything held (repair before sync)", walk));
  for (const n of diffs) {
    for (let i = 0; i < n; i++) {
      const body = Buffer.from(`difference ${n} ${i} ${Math.random()}`);
      const id = createHash("sha256").update(body).digest("hex");
      const w = await store.createWriter({ kind: "chunk", id, size: body.length });
      w.end(body);
      await w.commit();
    }
    const layout = deps.layouts.of(members, self, 3);
    costs.push(await measure(`sync, finding ${n} objects the peers lack`, () => findWork(deps, layout)));
    costs.push(await measure(`sync, the round repairing them (copies to both peers)`, syncRound));
  }
  costs.push(await measure("sync, in sync again", syncRound));

  const inSync = costs[1]!;
  const rows = costs.map((c) => [
    c.name,
    c.wallS.toFixed(2),
    c.cpuS.toFixed(3),
    c.peersCpuS.toFixed(2),
    String(c.requests),
    (c.bytes / 2 ** 20).toFixed(3),
    String(c.readCalls),
    String(c.diskReadBytes),
    String(c.differences),
    String(c.copies),
  ]);
  const header = [
    "round",
    "wall s",
    "node CPU s",
    "peers CPU s",
    "requests",
    "network MiB",
    "read syscalls",
    "disk read B",
    "differences (per peer)",
    "copies",
  ];
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const lines = [
    `${written} objects (${objects - manifests - files} packed chunks of 64 B, ${manifests} packed manifests, ${files} chunk files of 1 KiB); two peers holding the same; R = 3; load average ${load}`,
    "",
    markdownTable(header, rows),
    "",
    markdownTable(
      ["target", "ceiling", "measured", "verdict"],
      [
        [
          "CPU of an in-sync round",
          "1 s",
          `${inSync.cpuS.toFixed(3)} s`,
          inSync.cpuS <= 1 ? "met" : "missed",
        ],
        [
          "network of an in-sync round",
          "4 MiB",
          `${(inSync.bytes / 2 ** 20).toFixed(3)} MiB`,
          inSync.bytes <= 4 * 2 ** 20 ? "met" : "missed",
        ],
      ],
    ),
    "",
    markdownTable(
      ["store open at start", "seconds", "node CPU s"],
      [
        ["without digests", plainOpenS.toFixed(2), ((plainCpu.user + plainCpu.system) / 1e6).toFixed(2)],
        ["with digests built", digestOpenS.toFixed(2), ((openCpu.user + openCpu.system) / 1e6).toFixed(2)],
        [
          `digests' memory: ${digestsMiB.toFixed(0)} MiB; a peer process started (open included) in`,
          peersStartS.toFixed(2),
          "-",
        ],
      ],
    ),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  writeFileSync(
    join(values.out, `${new Date().toISOString().replace(/[:.]/g, "-")}-sync-round.json`),
    JSON.stringify(
      { objects: written, load, costs, plainOpenS, digestOpenS, digestsMiB, peersStartS },
      null,
      2,
    ),
  );
  abort.abort();
  await nodes.close();
  await store.close();
  await tables.close();
  await Promise.all(peers.map((p) => p.stop()));
} finally {
  rmSync(root, { recursive: true, force: true });
}
