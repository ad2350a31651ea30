import { type ProcStat, procStat, type ThreadKind } from "./procs.ts";
import { type PeakRss, sampleRss } from "./rss.ts";

/** What a run of a request-counting case reports besides its duration. */
export interface RunOutcome {
  /** One latency per request, in ms (failed requests included). */
  latenciesMs: number[];
  errors: number;
}

/** One thing the bench measures: ours or a baseline (a ceiling). */
export interface BenchCase {
  key: string;
  label: string;
  /** "node" (node-level suite) or "cluster" (gateway, nodes and their ceilings). */
  group: "node" | "cluster";
  /** The processes doing the work, by role; "client" is this process. */
  roles: Record<string, number>;
  /** The volume of every run, when the case has its own (a file size); else the suite's --mib. */
  bytes?: number;
  /** Measured once, in run 1 only, with no warm-up (the optional 2 GiB case). */
  once?: boolean;
  /**
   * Runs (warm-up and measured runs) after every other case is done: what it leaves in the
   * processes (a listing of 100,000 keys grows the nodes' and gateway's RSS) must not reach the
   * other cases' figures.
   */
  last?: boolean;
  /** Unmeasured: make what the run needs (ids, payloads, files). */
  prepare?(bytes: number, run: number): Promise<void>;
  /** Measured: move `bytes` and resolve when every byte is acknowledged (or every request answered). */
  run(bytes: number): Promise<RunOutcome | undefined>;
  /** Unmeasured: remove what the run stored, so every run writes new files. */
  reset?(): Promise<void>;
}

export interface RoleCost {
  cpuSeconds: number;
  minorFaults: number;
  threads: Record<ThreadKind, number>;
}

export interface RequestStats {
  count: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Measurement {
  run: number;
  bytes: number;
  seconds: number;
  mibPerSecond: number;
  cost: Record<string, RoleCost>;
  /** Peak resident memory of each role during the run, MiB, and its largest anonymous part. */
  peakRssMiB: Record<string, number>;
  peakAnonMiB: Record<string, number>;
  requests?: RequestStats;
}

const MiB = 1024 * 1024;

function snapshot(roles: Record<string, number>): Record<string, ProcStat> {
  return Object.fromEntries(Object.entries(roles).map(([role, pid]) => [role, procStat(pid)]));
}

/** The q-quantile (0..1) of values, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export async function measure(c: BenchCase, bytes: number, run: number): Promise<Measurement> {
  await c.prepare?.(bytes, run);
  const before = snapshot(c.roles);
  const stopSampling = sampleRss(c.roles);
  const started = performance.now();
  let outcome: RunOutcome | undefined;
  let peak: PeakRss;
  try {
    outcome = await c.run(bytes);
  } finally {
    peak = stopSampling();
  }
  const seconds = (performance.now() - started) / 1000;
  const after = snapshot(c.roles);
  await c.reset?.();
  const cost: Record<string, RoleCost> = {};
  for (const role of Object.keys(c.roles)) {
    const a = after[role]!;
    const b = before[role]!;
    cost[role] = {
      cpuSeconds: a.cpuSeconds - b.cpuSeconds,
      minorFaults: a.minorFaults - b.minorFaults,
      threads: {
        main: a.threads.main - b.threads.main,
        libuv: a.threads.libuv - b.threads.libuv,
        v8: a.threads.v8 - b.threads.v8,
        other: a.threads.other - b.threads.other,
      },
    };
  }
  const requests = outcome && {
    count: outcome.latenciesMs.length,
    errors: outcome.errors,
    perSecond: outcome.latenciesMs.length / seconds,
    p50Ms: quantile(outcome.latenciesMs, 0.5),
    p99Ms: quantile(outcome.latenciesMs, 0.99),
  };
  return {
    run,
    bytes,
    seconds,
    mibPerSecond: bytes / MiB / seconds,
    cost,
    peakRssMiB: peak.rss,
    peakAnonMiB: peak.anon,
    requests,
  };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs task(0..count-1) with at most `inflight` at once; the first failure rejects. */
export async function runPool(
  count: number,
  inflight: number,
  task: (index: number, worker: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (w: number) => {
    while (next < count) await task(next++, w);
  };
  await Promise.all(Array.from({ length: Math.min(inflight, count) }, (_, w) => worker(w)));
}

/** Splits `pieces` as evenly as possible over `streams`, in whole pieces. */
export function shares(pieces: number, streams: number): number[] {
  const n = Math.min(streams, pieces);
  return Array.from({ length: n }, (_, i) => Math.floor(pieces / n) + (i < pieces % n ? 1 : 0));
}
