/**
 * The short partition schedule (test/partitions/): the cluster on 14 network namespaces, every
 * fault once while clients write and read files and keys, then everything read back through both
 * gateways and checked. Any anomaly fails with the history around it; the per-fault table is
 * printed and written under test-results/partitions/. Where namespaces cannot be made (not
 * root, not Linux), it says so and skips.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { reportText, runPartitions } from "./partitions/run.ts";

const SEED = Number(process.env.DFS_PARTITIONS_SEED ?? Math.floor(Math.random() * 2 ** 31));

test("every fault once: no acknowledged write lost, no unwritten bytes read, every gateway agrees after", {
  timeout: 9 * 60_000,
}, async (t) => {
  const outcome = await runPartitions({ seed: SEED, minutes: 0, timeoutMs: 8 * 60_000 });
  if (outcome.skipped !== undefined) {
    t.skip(outcome.skipped);
    return;
  }
  const text = reportText(outcome.result);
  t.diagnostic(text);
  console.log(text);
  assert.deepEqual(
    outcome.result.anomalies,
    [],
    `seed ${SEED} (DFS_PARTITIONS_SEED=${SEED} to run it again)`,
  );
});
