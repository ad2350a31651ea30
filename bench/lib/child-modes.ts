import { spawnSync } from "node:child_process";
import { median } from "./measure.ts";
import { fixed } from "./table.ts";

/**
 * Runs `runs` rounds of one fresh Node child per mode, the modes taking turns so drift hits them
 * alike. `argsFor(mode)` gives the child's node arguments; the child prints one JSON result on
 * stdout (its stderr passes through). Returns every mode's results in run order.
 */
export function runModesInChildren<M extends string, R>(
  modes: readonly M[],
  runs: number,
  argsFor: (mode: M) => string[],
): Map<M, R[]> {
  const results = new Map<M, R[]>(modes.map((m) => [m, []]));
  for (let run = 0; run < runs; run++) {
    for (const mode of modes) {
      const child = spawnSync(process.execPath, argsFor(mode), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      if (child.status !== 0) throw new Error(`the ${mode} run failed`);
      results.get(mode)!.push(JSON.parse(child.stdout) as R);
    }
  }
  return results;
}

/** One table row per mode: its name, then each column's median over the mode's runs, to `digits`. */
export function medianRows<M extends string, R>(
  results: Map<M, R[]>,
  columns: readonly { of: (r: R) => number; digits: number }[],
): string[][] {
  return [...results].map(([mode, runs]) => [
    mode,
    ...columns.map((c) => fixed(median(runs.map(c.of)), c.digits)),
  ]);
}
