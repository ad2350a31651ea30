import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

interface CaseJson {
  group: string;
  median: { value: number; unit: string };
  peakRssMiB: Record<string, number>;
  runs: { bytes: number; requests?: { count: number; errors: number } }[];
}

/**
 * Runs the whole bench with tiny sizes so it cannot rot: every process starts (nodes, baselines, a
 * Redis-backed cluster with its gateway, the Fastify ceiling), every case runs, every table prints.
 */
// 30 cases on two clusters: about 45 s on a loaded 2-core CI machine, hence the longer bound.
test("npm run bench runs end to end with tiny sizes and prints its tables", {
  timeout: 120_000,
}, async () => {
  const out = await makeTempDir("dfs-bench-smoke-");
  const args = ["--mib", "4", "--runs", "1", "--inflight", "2", "--sizes", "1", "--small", "50"];
  // A bucket of 250 keys listed in pages of 100: three pages, two continuation tokens.
  const list = ["--list-keys", "250", "--list-page", "100"];
  // --from src: the tests never depend on a build (the default, dist, runs npm run build first).
  const from = ["--from", "src"];
  try {
    const { code, stdout, stderr } = await runScript(
      "bench/run.ts",
      [...args, ...list, ...from, "--out", out.path],
      110_000,
    );
    assert.equal(code, 0, `bench exited ${code}; stderr:\n${stderr}`);

    // Each of our figures beside its ceiling: a figure on both sides, the unit, a ratio.
    const rows: [string, string, string][] = [
      ["PUT 1 MiB -> 1 node", "socket pair PUT", "MiB/s"],
      ["PUT 1 MiB -> 1 node", "1 hop, 1 MiB files + fsync", "MiB/s"],
      ["PUT 1 MiB -> chain of 3", "3-hop chain, 1 MiB files + fsync", "MiB/s"],
      ["GET cached 1 MiB <- 1 node", "socket pair GET", "MiB/s"],
      ["PUT 1 MiB -> gateway", "3-hop chain 1 MiB, 1 MiB files + fsync", "MiB/s"],
      ["POST 1 MiB multipart -> gateway", "3-hop chain 1 MiB, 1 MiB files + fsync", "MiB/s"],
      ["PUT 1 MiB -> gateway", "Fastify PUT 1 MiB -> discard", "MiB/s"],
      ["POST 1 MiB multipart -> gateway", "Fastify multipart POST 1 MiB -> discard", "MiB/s"],
      ["GET 1 MiB <- gateway (verified)", "Fastify GET cached 1 MiB file", "MiB/s"],
      ["PUT 4 KiB -> gateway, 16 at a time", "Fastify PUT 4 KiB", "req/s"],
      ["GET 4 KiB <- gateway, 16 at a time (verified)", "Fastify GET 4 KiB", "req/s"],
      ["table write, 1 record, W = 2 of 3 owners, 16 at a time", "TABLE_WRITE 1 record -> 1 node", "req/s"],
      ["table read, 1 record, 2 of 3 owners, 16 at a time", "TABLE_READ 1 record <- 1 node", "req/s"],
      ["table range read, 1000 records, 2 of 3 owners merged", "TABLE_READ pages of 1000 records", "req/s"],
      ["S3 PutObject 1 MiB -> gateway", "PUT 1 MiB -> gateway /v1 key", "MiB/s"],
      ["S3 PutObject 1 MiB, SHA-256 signed -> gateway", "S3 PutObject 1 MiB -> gateway", "MiB/s"],
      ["S3 PutObject 1 MiB -> gateway", "PUT 1 MiB -> gateway", "MiB/s"],
      ["S3 GetObject 1 MiB <- gateway (verified)", "GET 1 MiB <- gateway (verified)", "MiB/s"],
      [
        "S3 PutObject 4 KiB (signed body) -> gateway, 16 at a time",
        "PUT 4 KiB -> gateway /v1 key, 16 at a time",
        "req/s",
      ],
      [
        "S3 PutObject 4 KiB (signed body) -> gateway, 16 at a time",
        "PUT 4 KiB -> gateway, 16 at a time",
        "req/s",
      ],
      ["S3 ListObjectsV2 of 250 keys, pages of 100", "target", "keys/s"],
      ["PUT 4 KiB -> gateway, 16 at a time", "target", "req/s"],
      ["PUT 4 KiB -> gateway, 16 at a time: p99", "target", "ms"],
      ["GET 4 KiB <- gateway, 16 at a time (verified)", "target", "req/s"],
      ["gateway peak RSS, 1 MiB transfers", "target", "MiB"],
      ["largest node peak RSS, 1 MiB transfers", "target", "MiB"],
      ["gateway peak RSS, S3 1 MiB transfers", "target", "MiB"],
      ["largest node peak RSS, S3 1 MiB transfers", "target", "MiB"],
    ];
    for (const [ours, ceiling, unit] of rows) {
      const row = new RegExp(
        `^\\| ${literal(ours)} +\\| +[\\d.]+ \\| ${literal(ceiling)}[^|]*\\| +[\\d.]+ \\| ${literal(unit)} +\\| +\\d+% \\|`,
        "m",
      );
      assert.match(stdout, row, `no row for ${ours} vs ${ceiling}:\n${stdout}`);
    }
    assert.match(stdout, /mode: default malloc/);
    assert.match(
      stdout,
      /^dfs processes run src\/cli\/main\.ts \(--from src\) with node --max-semi-space-size=2$/m,
    );
    const targets = [">= 70%", ">= 60%", ">= 90%", ">= 80%", ">= 500 req/s", "<= 100 ms", ">= 3000 req/s"];
    for (const target of [...targets, ">= 20000 keys/s", "<= 200 MiB"]) {
      assert.match(stdout, new RegExp(`${literal(target)}: (met|MISSED)`), `no verdict for ${target}`);
    }
    assert.match(stdout, /CPU s per GiB by thread/);
    assert.match(stdout, /CPU µs per request by thread/);
    assert.match(stdout, /peak RSS MiB/);

    const files = (await readdir(out.path)).filter((f) => f.endsWith(".json"));
    assert.equal(files.length, 1);
    const json = JSON.parse(await readFile(join(out.path, files[0]!), "utf8")) as {
      rows: { ratio: number }[];
      cases: Record<string, CaseJson>;
    };
    assert.equal(json.rows.length, rows.length);
    const keys = Object.keys(json.cases);
    assert.equal(keys.filter((k) => json.cases[k]!.group === "node").length, 7);
    const s3 = [
      "s3-put-1",
      "s3-put-signed-1",
      "key-put-1",
      "s3-get-1",
      "s3-small-put",
      "key-small-put",
      "s3-list",
    ];
    for (const k of [
      "gw-put-1",
      "gw-post-1",
      "gw-get-1",
      "chain3-1",
      "fastify-file-1",
      "gw-small-get",
      ...s3,
    ]) {
      assert.ok(keys.includes(k), `no case ${k} in ${keys.join(", ")}`);
    }
    assert.equal(keys.length, 7 + 7 + 4 + 6 + 7);
    for (const [key, c] of Object.entries(json.cases)) {
      assert.ok(c.median.value > 0, `${key} has no figure`);
      const run = c.runs[0]!;
      if (run.requests) {
        // Range reads of 1,000 records: one per 40 small files, at least 2; the listing: 3 pages.
        const count = key.startsWith("tbl-range") ? 2 : key === "s3-list" ? 3 : 50;
        assert.equal(run.requests.count, count, `${key} made the wrong number of requests`);
        assert.equal(run.requests.errors, 0, `${key} had errors`);
      } else if (c.group === "cluster") {
        assert.equal(run.bytes, 1024 * 1024, `${key} moved the wrong volume`);
      } else {
        assert.equal(run.bytes, 4 * 1024 * 1024, `${key} moved the wrong volume`);
      }
    }
    assert.ok((json.cases["gw-put-1"]!.peakRssMiB.gateway ?? 0) > 10, "no RSS sampled for the gateway");
    assert.ok((json.cases["gw-put-1"]!.peakRssMiB["node-3"] ?? 0) > 10, "no RSS sampled for node-3");
  } finally {
    await out.remove();
  }
});

test("bench/table-engine.ts runs every candidate engine and prints its table", {
  timeout: 60_000,
}, async () => {
  const dir = await makeTempDir("dfs-bench-tables-");
  try {
    const args = ["--records", "3000", "--writes", "200", "--callers", "8", "--dir", dir.path];
    const { code, stdout, stderr } = await runScript("bench/table-engine.ts", args);
    assert.equal(code, 0, `table-engine exited ${code}; stderr:\n${stderr}`);
    for (const engine of ["lmdb", "lmdb-overlap", "sqlite", "sqlite-worker", "ceiling"]) {
      assert.match(stdout, new RegExp(`^\\| ${engine}[^|]* +\\|(?: +[\\d.]+ \\|){7}`, "m"), stdout);
    }
    assert.deepEqual(await readdir(dir.path), []);
  } finally {
    await dir.remove();
  }
});

test("bench/sync-round.ts runs a sync round, the walk and rounds with differences, and prints its tables", {
  timeout: 120_000,
}, async () => {
  const dir = await makeTempDir("dfs-bench-sync-");
  try {
    const args = ["--objects", "3000", "--manifests", "300", "--files", "50", "--diffs", "5,20"];
    const { code, stdout, stderr } = await runScript("bench/sync-round.ts", [
      ...args,
      "--dir",
      dir.path,
      "--out",
      dir.path,
    ]);
    assert.equal(code, 0, `sync-round exited ${code}; stderr:\n${stderr}`);
    const row = (name: string) =>
      stdout
        .split("\n")
        .find((l) => l.startsWith(`| ${name}`))
        ?.split("|")
        .slice(2, -1)
        .map((c) => c.trim());
    // Columns: wall s, node CPU s, peers CPU s, requests, network MiB, read syscalls, disk read B,
    // differences (per peer), copies.
    // In sync: one request per peer and tree (chunks, manifests, tables: 6) of 8,288 bytes; the
    // walk asks of every object.
    assert.deepEqual(row("sync, in sync ")?.slice(3, 5), ["6", "0.047"], stdout);
    assert.ok(Number(row("walk of everything held")?.[3]) > 1000, stdout);
    // Differences found per peer (2 peers), then copied to each.
    assert.deepEqual(row("sync, finding 20 objects the peers lack")?.slice(7), ["40", "0"], stdout);
    const repairing = stdout.split("\n").filter((l) => l.startsWith("| sync, the round repairing them"));
    assert.match(repairing.at(-1) ?? "", /\| 40 +\| 40 +\|$/, stdout);
    assert.match(stdout, /^\| CPU of an in-sync round +\| 1 s +\| [\d.]+ s +\| met +\|$/m, stdout);
    // The folders it filled are gone; its figures are kept as JSON.
    const left = await readdir(dir.path);
    assert.equal(left.length, 1, `left behind: ${left}`);
    assert.match(left[0]!, /-sync-round\.json$/);
  } finally {
    await dir.remove();
  }
});

test("bench/background-load.ts uploads with background work on and off, in turns, and prints its table", {
  timeout: 120_000,
}, async () => {
  const dir = await makeTempDir("dfs-bench-bgload-");
  try {
    const args = ["--objects", "5000", "--runs", "1", "--seconds", "1", "--mib", "8"];
    const { code, stdout, stderr } = await runScript("bench/background-load.ts", [
      ...args,
      "--dir",
      dir.path,
      "--out",
      dir.path,
    ]);
    assert.equal(code, 0, `background-load exited ${code}; stderr:\n${stderr}`);
    // Both modes ran at least one verified upload and print a rate, a cost and their rounds.
    for (const mode of ["background on \\(defaults\\)", "background off"]) {
      assert.match(
        stdout,
        new RegExp(`^\\| ${mode} +\\| [\\d.]+ +\\| [\\d.]+ +\\| [\\d.]+ +\\| \\d+/\\d+ +\\|$`, "m"),
        stdout,
      );
    }
    assert.match(stdout, /^on \/ off: [\d.]+% \(target >= 95%: (met|MISSED)\)$/m, stdout);
    assert.match(stdout, /^server CPU per GiB, on \/ off: [\d.]+%$/m, stdout);
    const left = await readdir(dir.path);
    assert.equal(left.length, 1, `left behind: ${left}`);
    assert.match(left[0]!, /^background-load-.*\.json$/);
  } finally {
    await dir.remove();
  }
});

test("bench/store-small.ts writes and reads back through both layouts and prints its table", {
  timeout: 60_000,
}, async () => {
  const dir = await makeTempDir("dfs-bench-store-");
  try {
    const args = ["--objects", "40", "--runs", "1", "--concurrency", "4", "--dir", dir.path];
    const { code, stdout, stderr } = await runScript("bench/store-small.ts", args);
    assert.equal(code, 0, `store-small exited ${code}; stderr:\n${stderr}`);
    assert.match(stdout, /^\| files +\| +\d+ \| +\d+ \| +\d+ \| +\d+ \| +- \|$/m, stdout);
    // Four writers at a time: the packs' batches are fewer than the objects.
    const batches = Number(/^\| packs +\|(?: +\d+ \|){4} +(\d+) \|$/m.exec(stdout)?.[1]);
    assert.ok(batches >= 1 && batches < 40, `${batches} batches for 40 objects:\n${stdout}`);
    // Nothing left behind in the directory it was given.
    assert.deepEqual(await readdir(dir.path), []);
  } finally {
    await dir.remove();
  }
});

test("bench/free-now.ts runs both modes in child processes and prints its table", {
  timeout: 60_000,
}, async () => {
  const { code, stdout, stderr } = await runScript("bench/free-now.ts", ["--mib", "16", "--runs", "1"]);
  assert.equal(code, 0, `free-now exited ${code}; stderr:\n${stderr}`);
  for (const mode of ["gc", "freeNow"]) {
    assert.match(
      stdout,
      new RegExp(`^\\| ${mode} +\\| +\\d+\\.\\d\\d \\| +\\d+ \\| +\\d+ \\|$`, "m"),
      stdout,
    );
  }
});

test("bench/malloc-keep.ts: kept memory is not faulted in anew for every piece", {
  timeout: 60_000,
}, async () => {
  // Builds dist/ (incremental) for its children, which run plain JavaScript as a service does.
  const { code, stdout, stderr } = await runScript("bench/malloc-keep.ts", ["--mib", "32", "--runs", "1"]);
  assert.equal(code, 0, `malloc-keep exited ${code}; stderr:\n${stderr}`);
  const faults = (mode: string) => {
    const row = new RegExp(`^\\| ${mode} +\\| +\\d+\\.\\d\\d \\| +(\\d+) \\|$`, "m").exec(stdout);
    assert.ok(row, `no "${mode}" row:\n${stdout}`);
    return Number(row[1]);
  };
  // glibc as a process starts maps and unmaps every 256 KiB cipher output (~350 faults per MiB).
  assert.ok(faults("kept") * 4 < faults("as started"), stdout);
});

/**
 * Runs a bench script to its end and collects its output. Bounded: SIGINT at 50 s (the bench then
 * stops its own children by pid and cleans up), SIGKILL at 57 s, within the tests' 60 s.
 */
/** Runs a bench script; SIGINT after `limitMs`, SIGKILL 7 s later. */
async function runScript(
  script: string,
  args: string[],
  limitMs = 50_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = once(child, "exit");
  const interrupt = setTimeout(() => child.kill("SIGINT"), limitMs);
  const killer = setTimeout(() => child.kill("SIGKILL"), limitMs + 7000);
  try {
    const [code] = (await exited) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(interrupt);
    clearTimeout(killer);
  }
}
