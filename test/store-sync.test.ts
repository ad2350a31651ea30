import assert from "node:assert/strict";
import { mkdir, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DirSyncer } from "../src/node/store/dir-sync.ts";
import { DiskSpace } from "../src/node/store/disk-space.ts";
import { makeTempDir } from "./helpers/tmp.ts";

let dir: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  dir = await makeTempDir("dfs-sync-");
});
after(() => dir?.remove());

test("directory syncs requested at once are grouped, and each request is answered", async () => {
  const syncer = new DirSyncer();
  const dirs = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const d = join(dir.path, `d${i}`);
      await mkdir(d);
      await writeFile(join(d, "f"), "x");
      return d;
    }),
  );
  // 60 requests over 6 directories, some made while a round is running.
  const first = dirs.map((d) => syncer.sync(d));
  await new Promise((r) => setImmediate(r));
  const later = Array.from({ length: 54 }, (_, i) => syncer.sync(dirs[i % dirs.length]!));
  await Promise.all([...first, ...later]);
  // The 54 later requests came in one tick: one round, each directory once.
  assert.ok(syncer.fsyncs <= 12, `${syncer.fsyncs} fsyncs for 60 requests`);
});

test("a directory that cannot be synced fails its own requests only", async () => {
  const syncer = new DirSyncer();
  const good = join(dir.path, "good");
  await mkdir(good);
  const missing = join(dir.path, "missing");
  const results = await Promise.allSettled([syncer.sync(good), syncer.sync(missing), syncer.sync(good)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled"],
  );
  const failure = results[1] as PromiseRejectedResult;
  assert.equal((failure.reason as NodeJS.ErrnoException).code, "ENOENT");
  // The syncer keeps working after a failure.
  await syncer.sync(good);
});

test("free space: a fresh statfs, then lowered by what is written until the next look", async () => {
  const space = new DiskSpace(dir.path);
  const fresh = space.refresh();
  const s = await statfs(dir.path);
  assert.equal(fresh.total, s.blocks * s.bsize);
  assert.ok(Math.abs(fresh.available - s.bavail * s.bsize) < 64 * 1024 * 1024, "close to statfs");
  const TiB = 1024 ** 4;
  const before = space.available();
  space.wrote(TiB);
  assert.equal(space.available(), before - TiB, "what was written counts at once");
  space.refresh();
  assert.ok(space.available() > before - TiB / 2, "a refresh replaces the estimate");
});
