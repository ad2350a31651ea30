import { readFileSync, writeFileSync } from "node:fs";

const MiB = 1024 * 1024;

/** kB fields of /proc/<pid>/status, in bytes; empty once the process is gone. */
function status(pid: number): { VmRSS?: number; VmHWM?: number; RssAnon?: number } {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return {};
  }
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  return { VmRSS: field("VmRSS"), VmHWM: field("VmHWM"), RssAnon: field("RssAnon") };
}

/**
 * Resets the kernel's peak-RSS mark (VmHWM) of a process we own: writing "5" to clear_refs touches
 * nothing else (Linux >= 4.0). Returns false where that is not allowed; sampling still works.
 */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export interface PeakRss {
  /** Peak resident set, MiB: the largest VmRSS sample, or VmHWM when it could be reset at the start. */
  rss: Record<string, number>;
  /** Largest anonymous part sampled (heap, buffers, malloc), MiB; the rest is mostly the node binary. */
  anon: Record<string, number>;
}

/**
 * Samples /proc/<pid>/status of each role every `intervalMs` while a case runs. The kernel's own
 * VmHWM, reset at the start, catches a peak that falls between two samples, or while this process
 * was too busy to sample.
 */
export function sampleRss(roles: Record<string, number>, intervalMs = 100): () => PeakRss {
  const rss = new Map<string, number>();
  const anon = new Map<string, number>();
  const exact = new Map<string, boolean>();
  for (const [role, pid] of Object.entries(roles)) exact.set(role, resetPeak(pid));
  const sample = () => {
    for (const [role, pid] of Object.entries(roles)) {
      const s = status(pid);
      rss.set(role, Math.max(rss.get(role) ?? 0, s.VmRSS ?? 0, exact.get(role) ? (s.VmHWM ?? 0) : 0));
      anon.set(role, Math.max(anon.get(role) ?? 0, s.RssAnon ?? 0));
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    const mib = (m: Map<string, number>) =>
      Object.fromEntries(Object.keys(roles).map((role) => [role, (m.get(role) ?? 0) / MiB]));
    return { rss: mib(rss), anon: mib(anon) };
  };
}
