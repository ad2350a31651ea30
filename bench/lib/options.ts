import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "./procs.ts";

/** The malloc settings from shared/notes/performance.md: keep freed memory instead of returning it. */
export const TUNABLES =
  "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=67108864:glibc.malloc.top_pad=268435456";

export const PIECE_BYTES = 1024 * 1024;

export interface BenchOptions {
  /** MiB moved per case and run (in 1 MiB pieces). */
  mib: number;
  /** Measured runs per case (after one unmeasured warm-up run). */
  runs: number;
  /** Requests in flight for our cases; connections (streams) for the baselines. */
  inflight: number;
  tuned: boolean;
  /**
   * New chunk ids in every run. By default the measured runs rewrite the warm-up's ids (deleted
   * after each run), so their chunks/ab/cd/ directories exist, as on a node that has been running.
   */
  freshIds: boolean;
  /** Start every child with --cpu-prof, profiles written under <out>/prof-<stamp>/. */
  cpuProf: boolean;
  /** Only these case keys (e.g. for profiling one case); empty means all. */
  cases: string[];
  /** Where the JSON results go. */
  out: string;
}

export const USAGE = `usage: npm run bench -- [options]   (or: npx node bench/run.ts [options])
  --mib N        MiB per case and run, in 1 MiB pieces (BENCH_MIB, default 256)
  --runs N       measured runs per case after one warm-up; the median is shown (BENCH_RUNS, default 3)
  --inflight N   requests in flight / baseline connections (BENCH_INFLIGHT, default 4)
  --tuned        run every process with GLIBC_TUNABLES=${TUNABLES} (BENCH_TUNED=1)
  --fresh-ids    new chunk ids every run: most PUTs then create their directory, as on a young node
                 (BENCH_FRESH_IDS=1; default: rewrite the warm-up's ids, whose directories exist)
  --cpu-prof     start every child with --cpu-prof (BENCH_CPU_PROF=1)
  --cases K,K    only these cases (node-put-1, node-put-3, node-get-1, socket-put, socket-get,
                 hop1-files, chain3-files); comparisons missing a side are left out (BENCH_CASES)
  --out DIR      where results/<timestamp>.json goes (BENCH_OUT, default bench/results)`;

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not "${text}"`);
  return n;
}

const truthy = (text: string | undefined) => text !== undefined && !["", "0", "false", "no"].includes(text);

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      mib: { type: "string" },
      runs: { type: "string" },
      inflight: { type: "string" },
      tuned: { type: "boolean" },
      "fresh-ids": { type: "boolean" },
      "cpu-prof": { type: "boolean" },
      cases: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  return {
    mib: positiveInt("--mib", values.mib ?? env.BENCH_MIB, 256),
    runs: positiveInt("--runs", values.runs ?? env.BENCH_RUNS, 3),
    inflight: positiveInt("--inflight", values.inflight ?? env.BENCH_INFLIGHT, 4),
    tuned: values.tuned ?? truthy(env.BENCH_TUNED),
    freshIds: values["fresh-ids"] ?? truthy(env.BENCH_FRESH_IDS),
    cpuProf: values["cpu-prof"] ?? truthy(env.BENCH_CPU_PROF),
    cases: (values.cases ?? env.BENCH_CASES ?? "").split(",").filter((k) => k !== ""),
    out: values.out ?? env.BENCH_OUT ?? join(REPO_ROOT, "bench/results"),
  };
}

/** What malloc mode this process (and so every child, which inherits it) runs in. */
export function mallocMode(env: NodeJS.ProcessEnv): string {
  const t = env.GLIBC_TUNABLES;
  if (t === undefined || t === "") return "default malloc (GLIBC_TUNABLES unset)";
  if (t === TUNABLES) return `tuned (GLIBC_TUNABLES=${t})`;
  return `custom (GLIBC_TUNABLES=${t})`;
}
