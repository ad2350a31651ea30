import { type BenchCase, type Measurement, median } from "./measure.ts";
import { fixed, markdownTable, percent } from "./table.ts";

/** One of our figures beside the baseline it is judged against. */
export interface Comparison {
  ours: BenchCase;
  baseline: BenchCase;
  /** The least ours/baseline ratio we aim for, if there is a target. */
  target?: number;
}

export type Results = Record<string, Measurement[]>;

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const medianRate = (runs: readonly Measurement[]): number => median(runs.map((m) => m.mibPerSecond));

export function comparisonTable(comparisons: readonly Comparison[], results: Results): string {
  const rows = comparisons.map(({ ours, baseline, target }) => {
    const o = medianRate(results[ours.key]!);
    const b = medianRate(results[baseline.key]!);
    const verdict =
      target === undefined ? "" : `>= ${percent(target)}: ${o / b >= target ? "met" : "MISSED"}`;
    return [ours.label, fixed(o), baseline.label, fixed(b), percent(o / b), verdict];
  });
  return markdownTable(["ours", "MiB/s", "baseline", "MiB/s", "ratio", "target"], rows, [1, 3, 4]);
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
