import { type BenchCase, type Measurement, median } from "./measure.ts";
import { fixed, markdownTable, percent } from "./table.ts";

/** Measured runs by case key (run 0, the warm-up, is kept apart in Warmups). */
export type Results = Record<string, Measurement[]>;
export type Warmups = Record<string, Measurement>;

/** A bound on ours/ceiling: at least ("min") or at most ("max") `ratio`, written as `text`. */
export interface Target {
  kind: "min" | "max";
  ratio: number;
  text: string;
}

/** One line of the main table: one of our figures beside its ceiling (or a fixed target). */
export interface Row {
  ours: string;
  value: number;
  ceiling: string;
  ceilingValue: number;
  unit: string;
  target?: Target;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const medianRate = (runs: readonly Measurement[]): number => median(runs.map((m) => m.mibPerSecond));
export const medianOf = (runs: readonly Measurement[], f: (m: Measurement) => number): number =>
  median(runs.map(f));
export const isRequests = (runs: readonly Measurement[]): boolean => runs[0]?.requests !== undefined;

/** The headline figure of a case: req/s for request cases, MiB/s otherwise. */
export function headline(runs: readonly Measurement[]): { value: number; unit: string } {
  return isRequests(runs)
    ? { value: medianOf(runs, (m) => m.requests!.perSecond), unit: "req/s" }
    : { value: medianRate(runs), unit: "MiB/s" };
}

/** Ours beside a ceiling case, same unit; undefined when either was not run. */
export function versus(
  results: Results,
  ours: BenchCase,
  ceiling: BenchCase,
  target?: number,
): Row | undefined {
  const o = results[ours.key];
  const c = results[ceiling.key];
  if (!o?.length || !c?.length) return undefined;
  const a = headline(o);
  return {
    ours: ours.label,
    value: a.value,
    ceiling: ceiling.label,
    ceilingValue: headline(c).value,
    unit: a.unit,
    target: target === undefined ? undefined : { kind: "min", ratio: target, text: `>= ${percent(target)}` },
  };
}

/** Ours against a fixed figure (500 req/s, 100 ms, 200 MiB), at least or at most. */
export function bounded(ours: string, value: number, bound: number, unit: string, kind: "min" | "max"): Row {
  return {
    ours,
    value,
    ceiling: "target",
    ceilingValue: bound,
    unit,
    target: { kind, ratio: 1, text: `${kind === "min" ? ">=" : "<="} ${bound} ${unit}` },
  };
}

export const met = (r: Row): boolean | undefined =>
  r.target === undefined
    ? undefined
    : r.target.kind === "min"
      ? r.value / r.ceilingValue >= r.target.ratio
      : r.value / r.ceilingValue <= r.target.ratio;

const figure = (n: number, unit: string) => (unit === "ms" ? fixed(n, 1) : fixed(n));

export function mainTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => {
    const ratio = r.value / r.ceilingValue;
    const verdict = r.target === undefined ? "" : `${r.target.text}: ${met(r) ? "met" : "MISSED"}`;
    return [
      r.ours,
      figure(r.value, r.unit),
      r.ceiling,
      figure(r.ceilingValue, r.unit),
      r.unit,
      // Rounded against the reader: a "max" ratio up, a "min" ratio down, so the shown figure never flatters.
      r.target?.kind === "max" ? `${Math.ceil(ratio * 100)}%` : percent(ratio),
      verdict,
    ];
  });
  return markdownTable(["ours", "value", "ceiling", "value", "unit", "ratio", "target"], cells, [1, 3, 5]);
}

/** Every run's figure, and where the CPU went: seconds per GiB moved and first touches of memory. */
export function costTable(cases: readonly BenchCase[], results: Results): string {
  const rows = cases.map((c) => {
    const runs = results[c.key]!;
    const roles = Object.keys(c.roles);
    const perGiB = (role: string) => median(runs.map((m) => m.cost[role]!.cpuSeconds / (m.bytes / GiB)));
    const faults = median(
      runs.map((m) => roles.reduce((sum, r) => sum + m.cost[r]!.minorFaults, 0) / (m.bytes / MiB)),
    );
    const total = roles.reduce((sum, r) => sum + perGiB(r), 0);
    return [
      c.label,
      runs.map((m) => fixed(m.mibPerSecond)).join(" / "),
      fixed(medianRate(runs)),
      roles.map((r) => `${r} ${fixed(perGiB(r), 2)}`).join(", "),
      fixed(total, 2),
      fixed(faults),
    ];
  });
  return markdownTable(
    ["case", "runs MiB/s", "median", "CPU s per GiB, by process", "CPU s/GiB", "faults/MiB"],
    rows,
    [2, 4, 5],
  );
}

/** The request cases: rate, latency (median over runs of each run's percentile), errors, CPU per request. */
export function requestTable(cases: readonly BenchCase[], results: Results): string {
  const rows = cases.map((c) => {
    const runs = results[c.key]!;
    const roles = Object.keys(c.roles);
    const perRequest = (role: string) =>
      median(runs.map((m) => (m.cost[role]!.cpuSeconds * 1e6) / m.requests!.count));
    const total = roles.reduce((sum, r) => sum + perRequest(r), 0);
    return [
      c.label,
      runs.map((m) => fixed(m.requests!.perSecond)).join(" / "),
      fixed(medianOf(runs, (m) => m.requests!.perSecond)),
      fixed(
        medianOf(runs, (m) => m.requests!.p50Ms),
        1,
      ),
      fixed(
        medianOf(runs, (m) => m.requests!.p99Ms),
        1,
      ),
      String(runs.reduce((sum, m) => sum + m.requests!.errors, 0)),
      roles.map((r) => `${r} ${fixed(perRequest(r))}`).join(", "),
      fixed(total),
    ];
  });
  return markdownTable(
    ["case", "runs req/s", "median", "p50 ms", "p99 ms", "errors", "CPU µs per request, by process", "total"],
    rows,
    [2, 3, 4, 5, 7],
  );
}

/** Peak RSS of each process over every run of a case, the warm-up included (its first touches count). */
export function peakRss(
  c: BenchCase,
  results: Results,
  warmups: Warmups,
  field: "peakRssMiB" | "peakAnonMiB" = "peakRssMiB",
): Record<string, number> {
  const all = [...(results[c.key] ?? []), ...(warmups[c.key] ? [warmups[c.key]!] : [])];
  return Object.fromEntries(
    Object.keys(c.roles).map((role) => [role, Math.max(0, ...all.map((m) => m[field][role] ?? 0))]),
  );
}

export function rssTable(cases: readonly BenchCase[], results: Results, warmups: Warmups): string {
  const rows = cases.map((c) => {
    const peaks = peakRss(c, results, warmups);
    const anon = peakRss(c, results, warmups, "peakAnonMiB");
    return [
      c.label,
      Object.entries(peaks)
        .map(([role, mib]) => `${role} ${fixed(mib)} (${fixed(anon[role] ?? 0)})`)
        .join(", "),
    ];
  });
  return markdownTable(
    ["case", "peak RSS MiB (anonymous part), by process; all runs, warm-up included"],
    rows,
  );
}

/**
 * Where each process's CPU went by thread: main (JS, sockets, crypto), libuv pool (files, fsync), V8
 * workers (concurrent GC). Per GiB moved, or per request for the request cases.
 */
export function threadTable(cases: readonly BenchCase[], results: Results, per: "GiB" | "request"): string {
  const rows = cases.map((c) => {
    const runs = results[c.key]!;
    const unit = (m: Measurement) => (per === "GiB" ? m.bytes / GiB : m.requests!.count / 1e6);
    const cost = (role: string, kind: "main" | "libuv" | "v8") =>
      fixed(median(runs.map((m) => m.cost[role]!.threads[kind] / unit(m))), per === "GiB" ? 2 : 0);
    return [
      c.label,
      Object.keys(c.roles)
        .map((r) => `${r} ${cost(r, "main")}/${cost(r, "libuv")}/${cost(r, "v8")}`)
        .join(", "),
    ];
  });
  const what = per === "GiB" ? "CPU s per GiB" : "CPU µs per request";
  return markdownTable(["case", `${what} by thread: main / libuv pool / V8 workers`], rows);
}
