/**
 * The node-level benchmark: our storage nodes against plain node:net baselines, in one run, with
 * the same volume, piece size and concurrency. `npm run bench -- --help` for the options;
 * bench/README.md says what each case measures and what was measured here.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { type BaselineCases, startBaselines } from "./cases/baselines.ts";
import { type NodeCases, startNodeCases } from "./cases/node.ts";
import { type BenchCase, measure } from "./lib/measure.ts";
import { type BenchOptions, mallocMode, PIECE_BYTES, parseOptions, TUNABLES, USAGE } from "./lib/options.ts";
import { stopAllChildren } from "./lib/procs.ts";
import { type Comparison, comparisonTable, costTable, medianRate, type Results } from "./lib/report.ts";

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

async function bench(opts: BenchOptions): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const bytes = opts.mib * PIECE_BYTES;
  const nodeFlags = opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${join(opts.out, `prof-${stamp}`)}`] : [];
  const root = await mkdtemp(join(tmpdir(), "dfs-bench-"));
  scratch = root;
  let nodes: NodeCases | undefined;
  try {
    const base: BaselineCases = await startBaselines(root, opts.inflight, nodeFlags);
    nodes = await startNodeCases(root, { inflight: opts.inflight, freshIds: opts.freshIds, nodeFlags });
    const allComparisons: Comparison[] = [
      { ours: nodes.put1, baseline: base.socketPut },
      { ours: nodes.put1, baseline: base.hop1Files },
      { ours: nodes.put3, baseline: base.chain3Files, target: 0.7 },
      { ours: nodes.get1, baseline: base.socketGet, target: 0.5 },
    ];
    // Ours and its baseline side by side, so drift on a shared machine hits both alike.
    const allCases: BenchCase[] = [
      nodes.put1,
      base.socketPut,
      base.hop1Files,
      nodes.put3,
      base.chain3Files,
      nodes.get1,
      base.socketGet,
    ];
    const wanted = (c: BenchCase) => opts.cases.length === 0 || opts.cases.includes(c.key);
    const unknown = opts.cases.filter((k) => !allCases.some((c) => c.key === k));
    if (unknown.length > 0) throw new Error(`unknown case(s): ${unknown.join(", ")}`);
    const order = allCases.filter(wanted);
    const comparisons = allComparisons.filter((c) => wanted(c.ours) && wanted(c.baseline));
    const results: Results = Object.fromEntries(order.map((c) => [c.key, []]));
    // Run 0 warms every process alike (first touch of memory decides results here); not counted.
    for (let run = 0; run <= opts.runs; run++) {
      for (const c of order) {
        const m = await measure(c, bytes, run);
        if (run > 0) results[c.key]!.push(m);
        process.stderr.write(
          `${run === 0 ? "warm-up" : `run ${run}`}: ${c.label}: ${m.mibPerSecond.toFixed(0)} MiB/s\n`,
        );
      }
    }

    const header = [
      `dfs-mesh node bench, ${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} CPUs`,
      `mode: ${mallocMode(process.env)}`,
      `volume: ${opts.mib} MiB per case and run in 1 MiB pieces; ${opts.inflight} requests in flight ` +
        `(NodeClient, default pool) / ${opts.inflight} connections (baselines); median of ${opts.runs} ` +
        `run(s) after 1 warm-up; nodes fsync every chunk (default), baseline hops fsync every 1 MiB file`,
      `chunk ids: ${opts.freshIds ? "new every run (directories mostly new)" : "the warm-up's, rewritten every run (directories exist)"}`,
    ];
    process.stdout.write(
      `${header.join("\n")}\n\n${comparisons.length ? `${comparisonTable(comparisons, results)}\n\n` : ""}${costTable(order, results)}\n`,
    );

    await mkdir(opts.out, { recursive: true });
    const file = join(opts.out, `${stamp}.json`);
    const json = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      mode: mallocMode(process.env),
      options: { ...opts, pieceBytes: PIECE_BYTES },
      comparisons: comparisons.map((c) => ({
        ours: c.ours.key,
        baseline: c.baseline.key,
        target: c.target ?? null,
        ratio: medianRate(results[c.ours.key]!) / medianRate(results[c.baseline.key]!),
      })),
      cases: Object.fromEntries(
        order.map((c) => [
          c.key,
          { label: c.label, pids: c.roles, medianMiBps: medianRate(results[c.key]!), runs: results[c.key] },
        ]),
      ),
    };
    await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    await nodes?.close();
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
