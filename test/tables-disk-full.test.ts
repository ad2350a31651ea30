/**
 * Table records on a full disk: a small tmpfs (root only; skipped elsewhere, saying why) filled to
 * the last byte, in a process of its own (test/fixtures/tables-disk-full.ts). A write answers DFS_ERR_DISK_FULL, the process goes on (lmdb-js's second, unheard
 * rejection of the failed commit does not end it), what was stored stays, and writes work again
 * once space is freed.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let mounted = false;
let why = "";

before(async () => {
  dir = await makeTempDir("dfs-tables-full-");
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    why = "mounting a small tmpfs needs root on Linux";
    return;
  }
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir.path], { stdio: "ignore" });
    mounted = true;
  } catch {
    why = "mount -t tmpfs failed";
  }
});

after(async () => {
  if (mounted) execFileSync("umount", ["-l", dir.path], { stdio: "ignore" });
  await dir.remove();
});

test("a full disk: DFS_ERR_DISK_FULL, nothing lost, the process goes on, writes resume once freed", (t) => {
  if (!mounted) return t.skip(why);
  const run = spawnSync(process.execPath, [join(REPO_ROOT, "test/fixtures/tables-disk-full.ts"), dir.path], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr.slice(-3000));
  assert.equal(run.stdout.trim(), "ok");
});
