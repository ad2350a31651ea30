/**
 * `npm run test:partitions -- [--minutes N] [--seed S]`: a random schedule of N minutes (default 10;
 * 0: the short schedule), reproduced by its seed (default: a random one, printed). Exits 1 on any
 * anomaly, 0 when the run was clean or namespaces cannot be made here (it says so).
 */
import { parseArgs } from "node:util";
import { reportText, runPartitions } from "./run.ts";

const { values } = parseArgs({
  options: { minutes: { type: "string", default: "10" }, seed: { type: "string" } },
});
const minutes = Number(values.minutes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isFinite(minutes) || minutes < 0 || !Number.isInteger(seed)) {
  console.error("usage: npm run test:partitions -- [--minutes N] [--seed S]");
  process.exit(2);
}
console.log(`partition run: seed ${seed}, ${minutes === 0 ? "short schedule" : `${minutes} minutes`}`);
const outcome = await runPartitions({
  seed,
  minutes,
  timeoutMs: (Math.max(minutes, 4) + 6) * 60_000,
  log: (line) => console.log(line),
});
if (outcome.skipped !== undefined) {
  console.log(`skipped: ${outcome.skipped}`);
  process.exit(0);
}
console.log(reportText(outcome.result));
console.log(`report: test-results/partitions/report.md; reproduce with --seed ${seed} --minutes ${minutes}`);
process.exit(outcome.result.anomalies.length > 0 ? 1 : 0);
