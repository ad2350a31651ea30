import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Runs the whole bench with tiny sizes so it cannot rot: every process starts, every case runs. */
test("npm run bench runs end to end with tiny sizes and prints its table", { timeout: 60_000 }, async () => {
  const out = await makeTempDir("dfs-bench-smoke-");
  const child = spawn(
    process.execPath,
    ["bench/run.ts", "--mib", "4", "--runs", "1", "--inflight", "2", "--out", out.path],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = once(child, "exit");
  const killer = setTimeout(() => child.kill("SIGKILL"), 50_000);
  try {
    const [code] = await exited;
    assert.equal(code, 0, `bench exited ${code}; stderr:\n${stderr}`);

    // Each of our figures beside its baseline, with a MiB/s figure on both sides and a ratio.
    const rows: [string, string][] = [
      ["PUT 1 MiB -> 1 node", "socket pair PUT"],
      ["PUT 1 MiB -> 1 node", "1 hop, 1 MiB files + fsync"],
      ["PUT 1 MiB -> chain of 3", "3-hop chain, 1 MiB files + fsync"],
      ["GET cached 1 MiB <- 1 node", "socket pair GET"],
    ];
    for (const [ours, baseline] of rows) {
      const row = new RegExp(
        `^\\| ${literal(ours)} +\\| +\\d+ \\| ${literal(baseline)}[^|]*\\| +\\d+ \\| +\\d+% \\|`,
        "m",
      );
      assert.match(stdout, row, `no row for ${ours} vs ${baseline}:\n${stdout}`);
    }
    assert.match(stdout, /mode: default malloc/);
    assert.match(stdout, />= 70%: (met|MISSED)/);

    const files = (await readdir(out.path)).filter((f) => f.endsWith(".json"));
    assert.equal(files.length, 1);
    const json = JSON.parse(await readFile(join(out.path, files[0]!), "utf8")) as {
      cases: Record<string, { medianMiBps: number; runs: { bytes: number }[] }>;
    };
    assert.equal(Object.keys(json.cases).length, 7);
    for (const [key, c] of Object.entries(json.cases)) {
      assert.ok(c.medianMiBps > 0, `${key} has no rate`);
      assert.equal(c.runs[0]!.bytes, 4 * 1024 * 1024, `${key} moved the wrong volume`);
    }
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await out.remove();
  }
});
