import { join } from "node:path";
import { parseArgs } from "node:util";
import { DFS_FROM, type DfsFrom } from "./dfs.ts";
import { REPO_ROOT } from "./procs.ts";

/** glibc malloc settings (`--tuned`) that keep freed memory instead of returning it to the kernel. */
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
  /** Node flags for the cluster's gateway and nodes only (experiments: V8 heap sizes, --trace-gc). */
  clusterFlags: string[];
  /** Only these cases: keys, group names ("node", "cluster") or prefixes ending in "*"; empty means all. */
  cases: string[];
  /** File sizes of the cluster's large cases, MiB. */
  sizes: number[];
  /** Distinct small (4 KiB) files uploaded, then downloaded, per run. */
  small: number;
  /** HTTP connections (and requests in flight) of the small-file cases. */
  connections: number;
  /** Keys in the bucket the ListObjectsV2 case lists, filled before the runs. */
  listKeys: number;
  /** ListObjectsV2 page size (max-keys, at most 1,000). */
  listPage: number;
  /** Also the one-off big upload and download (RSS targets), of `bigMib`. */
  big: boolean;
  bigMib: number;
  /** Whether the dfs children run dist/cli/main.js (built first) or src/cli/main.ts. */
  from: DfsFrom;
  /** Where the JSON results go. */
  out: string;
}

export const USAGE = `usage: npm run bench -- [options]   (or: npx node bench/run.ts [options])
  --mib N        MiB per node-suite case and run, in 1 MiB pieces (BENCH_MIB, default 256)
  --runs N       measured runs per case after one warm-up; the median is shown (BENCH_RUNS, default 3)
  --inflight N   requests in flight / baseline connections (BENCH_INFLIGHT, default 4)
  --tuned        run every process with GLIBC_TUNABLES=${TUNABLES} (BENCH_TUNED=1)
  --fresh-ids    new chunk ids every run: most PUTs then create their directory, as on a young node
                 (BENCH_FRESH_IDS=1; default: rewrite the warm-up's ids, whose directories exist)
  --cpu-prof     start every child with --cpu-prof (BENCH_CPU_PROF=1)
  --cluster-flags="F F"  node flags for the gateway and nodes only (note the =), for experiments
                 such as "--initial-old-space-size=128" (BENCH_CLUSTER_FLAGS)
  --cases K,K    only these cases: keys (see bench/README.md), groups "node" or "cluster", or
                 prefixes such as "gw-*"; comparisons missing a side are left out (BENCH_CASES)
  --sizes N,N    file sizes in MiB of the cluster's large cases (BENCH_SIZES, default 64,512)
  --small N      4 KiB files uploaded then downloaded per run (BENCH_SMALL, default 2000)
  --connections N  HTTP connections / requests in flight for the 4 KiB cases (BENCH_CONNECTIONS, default 16)
  --list-keys N  keys in the bucket s3-list lists with ListObjectsV2, filled before the runs
                 (BENCH_LIST_KEYS, default 100000)
  --list-page N  its page size, max-keys (BENCH_LIST_PAGE, default 1000, at most 1000)
  --big          also upload and download one big file once, for the RSS targets (BENCH_BIG=1)
  --big-mib N    its size in MiB (BENCH_BIG_MIB, default 2048)
  --from dist|src  what the dfs nodes and gateway run: dist/cli/main.js, built first with npm run
                 build (as the Docker image does), or src/cli/main.ts (type stripping) (BENCH_FROM, default dist)
  --out DIR      where results/<timestamp>.json goes (BENCH_OUT, default bench/results)`;

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not "${text}"`);
  return n;
}

function atMost(bound: number, n: number): number {
  if (n > bound) throw new Error(`--list-page must be at most ${bound} (S3's largest page), not ${n}`);
  return n;
}

/** One of `allowed`; the first when unset. */
function oneOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T {
  if (text === undefined || text === "") return allowed[0]!;
  const found = allowed.find((a) => a === text);
  if (found === undefined) throw new Error(`${name} must be one of ${allowed.join(", ")}, not "${text}"`);
  return found;
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
      "cluster-flags": { type: "string" },
      sizes: { type: "string" },
      small: { type: "string" },
      connections: { type: "string" },
      "list-keys": { type: "string" },
      "list-page": { type: "string" },
      big: { type: "boolean" },
      "big-mib": { type: "string" },
      from: { type: "string" },
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
    clusterFlags: (values["cluster-flags"] ?? env.BENCH_CLUSTER_FLAGS ?? "")
      .split(" ")
      .filter((f) => f !== ""),
    cases: (values.cases ?? env.BENCH_CASES ?? "").split(",").filter((k) => k !== ""),
    sizes: (values.sizes ?? env.BENCH_SIZES ?? "64,512")
      .split(",")
      .filter((k) => k !== "")
      .map((k) => positiveInt("--sizes", k, 0)),
    small: positiveInt("--small", values.small ?? env.BENCH_SMALL, 2000),
    connections: positiveInt("--connections", values.connections ?? env.BENCH_CONNECTIONS, 16),
    listKeys: positiveInt("--list-keys", values["list-keys"] ?? env.BENCH_LIST_KEYS, 100_000),
    listPage: atMost(1000, positiveInt("--list-page", values["list-page"] ?? env.BENCH_LIST_PAGE, 1000)),
    big: values.big ?? truthy(env.BENCH_BIG),
    bigMib: positiveInt("--big-mib", values["big-mib"] ?? env.BENCH_BIG_MIB, 2048),
    from: oneOf("--from", values.from ?? env.BENCH_FROM, DFS_FROM),
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

/** Whether a case is selected by --cases: by key, by group, or by a prefix ending in "*". */
export function selects(patterns: readonly string[], key: string, group: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some(
    (p) => p === key || p === group || (p.endsWith("*") && key.startsWith(p.slice(0, -1))),
  );
}
