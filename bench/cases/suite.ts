import type { BenchCase } from "../lib/measure.ts";
import type { BenchOptions } from "../lib/options.ts";
import type { Results, Row, Warmups } from "../lib/report.ts";

/** What a suite needs to start its processes. */
export interface SuiteContext {
  root: string;
  opts: BenchOptions;
  nodeFlags: string[];
  /** Whether --cases selects this case. */
  wanted(key: string, group: string): boolean;
}

/** A set of cases with running processes behind them, and how its figures compare. */
export interface Suite {
  /** In the order they run: ours beside its ceiling. */
  cases: BenchCase[];
  /** Lines for the header: what ran, with which settings. */
  describe: string[];
  /** The main table's rows; a row whose cases did not run is undefined. */
  rows(results: Results, warmups: Warmups): (Row | undefined)[];
  close(): Promise<void>;
}

export interface CaseKey {
  key: string;
  group: BenchCase["group"];
}
