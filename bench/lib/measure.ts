import { type ProcStat, procStat } from "./procs.ts";

/** One thing the bench measures: ours or a baseline. */
export interface BenchCase {
  key: string;
  label: string;
  /** The processes doing the work, by role; "client" is this process. */
  roles: Record<string, number>;
  /** Unmeasured: make what the run needs (ids, say). */
  prepare?(bytes: number, run: number): Promise<void>;
  /** Measured: move `bytes` and resolve when every byte is acknowledged. */
  run(bytes: number): Promise<void>;
  /** Unmeasured: remove what the run stored, so every run writes new files. */
  reset?(): Promise<void>;
}

export interface RoleCost {
  cpuSeconds: number;
  minorFaults: number;
}

export interface Measurement {
  bytes: number;
  seconds: number;
  mibPerSecond: number;
  cost: Record<string, RoleCost>;
}

const MiB = 1024 * 1024;

function snapshot(roles: Record<string, number>): Record<string, ProcStat> {
  return Object.fromEntries(Object.entries(roles).map(([role, pid]) => [role, procStat(pid)]));
}

export async function measure(c: BenchCase, bytes: number, run: number): Promise<Measurement> {
  await c.prepare?.(bytes, run);
  const before = snapshot(c.roles);
  const started = performance.now();
  await c.run(bytes);
  const seconds = (performance.now() - started) / 1000;
  const after = snapshot(c.roles);
  await c.reset?.();
  const cost: Record<string, RoleCost> = {};
  for (const role of Object.keys(c.roles)) {
    cost[role] = {
      cpuSeconds: after[role]!.cpuSeconds - before[role]!.cpuSeconds,
      minorFaults: after[role]!.minorFaults - before[role]!.minorFaults,
    };
  }
  return { bytes, seconds, mibPerSecond: bytes / MiB / seconds, cost };
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
