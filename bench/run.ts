/**
 * The benchmark, in one run: the node-level suite (our storage nodes against plain node:net
 * baselines) and the cluster suite (a local cluster of 3 nodes and a gateway, driven over HTTP,
 * against Fastify and raw-chain ceilings). Same volumes, same client, in turn, so the ratios hold on
 * a shared machine. `npm run bench -- --help` for the options; bench/README.md says what each case
 * measures, how to run it and the current figures.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICE_NODE_FLAGS } from "../src/runtime.ts";
import { clusterSuite, clusterSuiteKeys } from "./cases/cluster-suite.ts";
import { nodeSuite, nodeSuiteKeys } from "./cases/node-suite.ts";
import type { Suite } from "./cases/suite.ts";
import { buildDist, dfsEntry } from "./lib/dfs.ts";
import { type BenchCase, type Measurement, measure } from "./lib/measure.ts";
import {
  type BenchOptions,
  mallocMode,
  PIECE_BYTES,
  parseOptions,
  selects,
  TUNABLES,
  USAGE,
} from "./lib/options.ts";
import { stopAllChildren } from "./lib/procs.ts";
import {
  costTable,
  headline,
  isRequests,
  mainTable,
  met,
  peakRss,
  type Results,
  type Row,
  requestTable,
  rssTable,
  threadTable,
  type Warmups,
} from "./lib/report.ts";

/** glibc reads GLIBC_TUNABLES at start-up only: a tuned run restarts this process with it set. */
function rerunTuned(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, GLIBC_TUNABLES: TUNABLES },
    stdio: "inherit",
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
}

/** The temp dir of the run in progress, for the Ctrl-C path. */
let scratch: string | undefined;

async function runCases(
  opts: BenchOptions,
  order: BenchCase[],
): Promise<{ results: Results; warmups: Warmups }> {
  const results: Results = Object.fromEntries(order.map((c) => [c.key, []]));
  const warmups: Warmups = {};
  // Run 0 warms every process alike (first touch of memory decides results here); not counted.
  // Cases take turns, ours beside its ceiling, so drift on a shared machine hits both alike.
  // Cases marked `last` take their turns after all the others are done (they leave memory behind).
  for (const round of [order.filter((c) => !c.last), order.filter((c) => c.last)]) {
    for (let run = 0; run <= opts.runs; run++) {
      for (const c of round) {
        if (c.once && run !== 1) continue;
        const m: Measurement = await measure(c, c.bytes ?? opts.mib * PIECE_BYTES, run);
        if (run === 0) warmups[c.key] = m;
        else results[c.key]!.push(m);
        const rate = m.requests
          ? `${m.requests.perSecond.toFixed(0)} req/s, p99 ${m.requests.p99Ms.toFixed(1)} ms, ${m.requests.errors} errors`
          : `${m.mibPerSecond.toFixed(0)} MiB/s`;
        process.stderr.write(`${run === 0 ? "warm-up" : `run ${run}`}: ${c.label}: ${rate}\n`);
      }
    }
  }
  return { results, warmups };
}

async function bench(opts: BenchOptions): Promise<void> {
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const nodeFlags = opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${join(opts.out, `prof-${stamp}`)}`] : [];
  const allKeys = [...nodeSuiteKeys(), ...clusterSuiteKeys(opts)];
  const unknown = opts.cases.filter((p) => !allKeys.some((k) => selects([p], k.key, k.group)));
  if (unknown.length > 0) throw new Error(`no case matches: ${unknown.join(", ")}`);
  const wanted = (key: string, group: string) => selects(opts.cases, key, group);

  // Production runs the compiled JavaScript: build it now rather than measure a stale dist/.
  if (opts.from === "dist") await buildDist();
  const root = await mkdtemp(join(tmpdir(), "dfs-bench-"));
  scratch = root;
  const suites: Suite[] = [];
  try {
    const ctx = { root, opts, nodeFlags, wanted };
    if (nodeSuiteKeys().some((k) => wanted(k.key, k.group))) suites.push(await nodeSuite(ctx));
    if (clusterSuiteKeys(opts).some((k) => wanted(k.key, k.group))) suites.push(await clusterSuite(ctx));
    const order = suites.flatMap((s) => s.cases).filter((c) => wanted(c.key, c.group));
    const { results, warmups } = await runCases(opts, order);
    const rows = suites.flatMap((s) => s.rows(results, warmups)).filter((r): r is Row => r !== undefined);

    const ran = (c: BenchCase) => (results[c.key]?.length ?? 0) > 0;
    const rateCases = order.filter((c) => ran(c) && !isRequests(results[c.key]!));
    const requestCases = order.filter((c) => ran(c) && isRequests(results[c.key]!));
    const clusterCases = rateCases.filter((c) => c.group === "cluster");
    const clusterRequests = requestCases.filter((c) => c.group === "cluster");
    const header = [
      `dfs-mesh bench, ${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} CPUs, ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")} at the end, ${((performance.now() - started) / 1000).toFixed(0)} s in all`,
      `mode: ${mallocMode(process.env)}`,
      `dfs processes run ${dfsEntry(opts.from)} (--from ${opts.from}) with node ${SERVICE_NODE_FLAGS.join(" ")}`,
      `median of ${opts.runs} run(s) after 1 warm-up per case; cases take turns, ours beside its ceiling`,
      ...suites.flatMap((s) => s.describe),
    ];
    const sections = [
      header.join("\n"),
      rows.length ? mainTable(rows) : "",
      rateCases.length ? costTable(rateCases, results) : "",
      requestCases.length ? requestTable(requestCases, results) : "",
      clusterCases.length ? threadTable(clusterCases, results, "GiB") : "",
      clusterRequests.length ? threadTable(clusterRequests, results, "request") : "",
      clusterCases.length ? rssTable(clusterCases, results, warmups) : "",
    ];
    process.stdout.write(`${sections.filter((s) => s !== "").join("\n\n")}\n`);

    await mkdir(opts.out, { recursive: true });
    const file = join(opts.out, `${stamp}.json`);
    const json = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      loadavg: loadavg(),
      seconds: (performance.now() - started) / 1000,
      mode: mallocMode(process.env),
      options: { ...opts, pieceBytes: PIECE_BYTES },
      rows: rows.map((r) => ({ ...r, ratio: r.value / r.ceilingValue, met: met(r) ?? null })),
      cases: Object.fromEntries(
        order.filter(ran).map((c) => [
          c.key,
          {
            label: c.label,
            group: c.group,
            pids: c.roles,
            median: headline(results[c.key]!),
            peakRssMiB: peakRss(c, results, warmups),
            runs: results[c.key],
            warmup: warmups[c.key] ?? null,
          },
        ]),
      ),
    };
    await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    for (const s of suites.reverse()) await s.close().catch(() => {});
    await stopAllChildren();
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (opts === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (opts.tuned && process.env.GLIBC_TUNABLES !== TUNABLES) return rerunTuned();
  // A reader that goes away (`| head`) must not skip the cleanup below: drop what cannot be printed.
  process.stdout.on("error", () => {});
  process.once("SIGINT", () => {
    void stopAllChildren()
      .then(() => (scratch ? rm(scratch, { recursive: true, force: true }) : undefined))
      .finally(() => process.exit(130));
  });
  await bench(opts);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
