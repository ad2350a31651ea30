/**
 * Small objects in pack files (pack-log.ts), on a real disk: the space they take: compaction (and
 * its background budget), objects moving between packs and files, capacity and a full disk.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, rm, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { isDfsError } from "../src/errors.ts";
import { TokenBucket } from "../src/node/rate-limit.ts";
import type { ObjectStore } from "../src/node/store/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { packStoresForSuite } from "./helpers/packs.ts";
import { waitFor } from "./helpers/registry.ts";
import { putChunk, putManifest } from "./helpers/store.ts";

const KiB = 1024;
const execFileAsync = promisify(execFile);

describe("ObjectStore packs of small objects: space", () => {
  const { stores, openStore, freshStore, reopen, read, packFiles, lastPack, filePath, exists } =
    packStoresForSuite("dfs-store-packs-");

  test("compaction rewrites mostly-dead packs and deletes them; a restart agrees", async () => {
    let s = await freshStore({ packBytes: 32 * KiB });
    const keep = new Map<string, Buffer>();
    const drop: string[] = [];
    for (let i = 0; i < 40; i++) {
      const data = patternBytes(3 * KiB, 500 + i);
      const id = await putChunk(s, data);
      if (i % 4 === 0) keep.set(id, data);
      else drop.push(id);
    }
    const packsBefore = (await packFiles(s)).length;
    assert.ok(packsBefore >= 4, `${packsBefore} packs`);
    for (const id of drop) assert.equal(await s.delete("chunk", id), true);
    await waitFor(() => s.counters.packFiles <= 2, 10_000, "compaction to leave at most 2 packs");
    assert.ok(s.counters.packFiles <= 2, `${s.counters.packFiles} packs left of ${packsBefore}`);
    assert.equal((await packFiles(s)).length, s.counters.packFiles);
    for (const [id, data] of keep) assert.ok((await read(s, "chunk", id)).equals(data));
    s = await reopen(s, { packBytes: 32 * KiB });
    for (const [id, data] of keep) assert.ok((await read(s, "chunk", id)).equals(data));
    for (const id of drop) assert.equal(await s.has("chunk", id), false);
    assert.equal((await s.stats()).chunkCount, keep.size);
  });

  test("compaction keeps a removal record while an older pack still holds what it hides", async () => {
    let s = await freshStore({ packBytes: 12 * KiB });
    const put3k = (seed: number) => putChunk(s, patternBytes(3 * KiB, seed));
    // Pack 1: X and three that stay, so it is never less than half live.
    const x = await put3k(1);
    for (const seed of [2, 3, 4]) await put3k(seed);
    // Pack 2: X's removal record, then four that go, so it is compacted while pack 1 remains.
    assert.equal(await s.delete("chunk", x), true);
    const zs = [];
    for (const seed of [5, 6, 7, 8]) zs.push(await put3k(seed));
    for (const z of zs) assert.equal(await s.delete("chunk", z), true);
    await waitFor(async () => !(await packFiles(s)).includes("00000002.pack"), 10_000, "pack 2 compacted");
    assert.deepEqual(await packFiles(s), ["00000001.pack", "00000003.pack"]);
    s = await reopen(s, { packBytes: 12 * KiB });
    assert.equal(await s.has("chunk", x), false, "X stays deleted: its removal record moved to pack 3");
    assert.equal((await s.stats()).chunkCount, 3);
  });

  test("compaction waits for its bytes from the background budget; foreground writes and close do not", async () => {
    const KEEP = 8;
    /** A sealed first pack of 20 records of 3 KiB with KEEP still live: less than half, so it is compacted. */
    async function mostlyDeadPack(s: ObjectStore): Promise<Map<string, Buffer>> {
      const keep = new Map<string, Buffer>();
      const drop: string[] = [];
      for (let i = 0; i < 24; i++) {
        const data = patternBytes(3 * KiB, 900 + i);
        const id = await putChunk(s, data);
        if (i < KEEP) keep.set(id, data);
        else if (i < 20) drop.push(id);
      }
      assert.ok((await packFiles(s)).length >= 2, "the first pack is sealed");
      for (const id of drop) assert.equal(await s.delete("chunk", id), true);
      return keep;
    }
    // 16 KiB/s, spent up front: moving the KEEP records (~25 KiB) has to wait about a second.
    const budget = new TokenBucket(16 * KiB);
    await budget.take(16 * KiB);
    let s = await freshStore({ packBytes: 64 * KiB, background: budget });
    const started = performance.now();
    const keep = await mostlyDeadPack(s);
    const quick = performance.now();
    await putChunk(s, patternBytes(3 * KiB, 999));
    assert.ok(performance.now() - quick < 500, "a foreground write waited for compaction's budget");
    await waitFor(async () => !(await packFiles(s)).includes("00000001.pack"), 10_000, "pack 1 compacted");
    const took = performance.now() - started;
    assert.ok(took >= 800, `compacted after ${Math.round(took)} ms, faster than its budget allows`);
    for (const [id, data] of keep) assert.ok((await read(s, "chunk", id)).equals(data));

    // Closing while compaction waits for its budget: close does not wait, nothing is lost.
    // Overspent by ten seconds' worth: its next grant is about ten seconds away.
    const slow = new TokenBucket(64 * KiB);
    await slow.take(11 * 64 * KiB);
    s = await freshStore({ packBytes: 64 * KiB, background: slow });
    const kept = await mostlyDeadPack(s);
    const closing = performance.now();
    s = await reopen(s, { packBytes: 64 * KiB });
    assert.ok(performance.now() - closing < 2000, "close waited for the budget");
    for (const [id, data] of kept) assert.ok((await read(s, "chunk", id)).equals(data));
    assert.equal((await s.stats()).chunkCount, KEEP + 4);
  });

  test("a read in progress keeps its pack open while compaction deletes it", async () => {
    const s = await freshStore({ packBytes: 96 * KiB, cacheBytes: 0 });
    const a = patternBytes(60 * KiB, 1);
    const aId = await putChunk(s, a);
    const fillers = [];
    for (const seed of [2, 3]) fillers.push(await putChunk(s, patternBytes(40 * KiB, seed)));
    const firstPack = (await packFiles(s))[0]!;
    // Opened, not yet read: then A and everything near it goes, and its pack is compacted away.
    const { source, length } = await s.openSource("chunk", aId);
    assert.equal(length, a.length);
    for (const id of [aId, ...fillers]) await s.delete("chunk", id);
    await waitFor(async () => !(await packFiles(s)).includes(firstPack), 10_000, "the first pack compacted");
    assert.equal((await packFiles(s)).includes(firstPack), false, "the pack was compacted and deleted");
    const back = Buffer.alloc(a.length);
    let at = 0;
    for (let n = await source.read(back); n > 0; n = await source.read(back.subarray(at))) at += n;
    await source.close();
    assert.equal(at, a.length);
    assert.ok(back.equals(a), "the bytes of the deleted pack, through the pinned descriptor");
  });

  test("an object moves between a file and a pack; the newer copy wins, after a restart too", async () => {
    // Written as a file while packs are off...
    let s = await freshStore({ packs: false });
    const mid = sha256(Buffer.from("moving"));
    await putManifest(s, mid, Buffer.from("v1 as a file"));
    assert.equal(await exists(filePath(s, "manifest", mid)), true);
    // ...replaced with packs on: the file goes.
    s = await reopen(s);
    assert.equal((await read(s, "manifest", mid)).toString(), "v1 as a file");
    await putManifest(s, mid, Buffer.from("v2 in a pack"));
    assert.equal(await exists(filePath(s, "manifest", mid)), false);
    assert.equal((await read(s, "manifest", mid)).toString(), "v2 in a pack");
    // Replaced by a body too large for a pack: a file again, and the packed copy is hidden.
    const large = patternBytes(100 * KiB, 5);
    await putManifest(s, mid, large);
    assert.ok((await read(s, "manifest", mid)).equals(large));
    assert.equal((await s.stats()).manifestCount, 1);
    s = await reopen(s);
    assert.ok((await read(s, "manifest", mid)).equals(large));
    assert.equal((await s.stats()).manifestCount, 1);
    assert.equal((await s.stats()).storedBytes, large.length);
    // A file left beside a newer packed copy (a crash before its unlink) is removed on open.
    await putManifest(s, mid, Buffer.from("v4 in a pack"));
    await writeFile(filePath(s, "manifest", mid), Buffer.concat([Buffer.alloc(32), Buffer.from("stale")]));
    s = await reopen(s);
    assert.equal((await read(s, "manifest", mid)).toString(), "v4 in a pack");
    assert.equal(await exists(filePath(s, "manifest", mid)), false);
    assert.equal((await s.stats()).manifestCount, 1);
  });

  test("packs stay readable with packs turned off; capacity limits apply to packed writes", async () => {
    let s = await freshStore();
    const id = await putChunk(s, patternBytes(1000, 1));
    s = await reopen(s, { packs: false, capacityBytes: 1500 });
    assert.ok((await read(s, "chunk", id)).equals(patternBytes(1000, 1)));
    s = await reopen(s, { capacityBytes: 1500 });
    await assert.rejects(putChunk(s, patternBytes(1000, 2)), (err: unknown) =>
      isDfsError(err, "DFS_ERR_DISK_FULL"),
    );
    assert.equal((await s.stats()).chunkCount, 1);
  });

  test("a full disk fails the batch with DISK_FULL, cuts it off, and loses nothing (tmpfs)", async (t) => {
    const mnt = join(stores.path, "small-disk");
    await mkdir(mnt);
    try {
      await execFileAsync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]);
    } catch (err) {
      t.skip(`cannot mount a small tmpfs here (${(err as Error).message.split("\n")[0]})`);
      return;
    }
    let s: ObjectStore | undefined;
    try {
      s = await openStore(join(mnt, "data"));
      const kept = await putChunk(s, patternBytes(4 * KiB, 1));
      const pack = await lastPack(s);
      const size = (await stat(pack)).size;
      // Fill the disk behind the store's back, within its 500 ms statfs window: the write is
      // let through, and the kernel's ENOSPC is what stops it.
      const free = await statfs(mnt);
      await writeFile(join(mnt, "filler"), Buffer.alloc(free.bavail * free.bsize)).catch(() => {});
      const datas = [2, 3, 4].map((seed) => patternBytes(8 * KiB, seed));
      const store = s;
      const results = await Promise.allSettled(datas.map((d) => putChunk(store, d)));
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.ok(isDfsError(r.reason, "DFS_ERR_DISK_FULL"), String(r.reason));
      }
      assert.equal((await stat(pack)).size, size, "the failed batch is cut off");
      for (const d of datas) assert.equal(await s.has("chunk", sha256(d)), false);
      assert.ok((await read(s, "chunk", kept)).equals(patternBytes(4 * KiB, 1)));
      assert.equal((await s.stats()).chunkCount, 1);
      // Room again: writes go on after the last good record, and all of it survives a restart.
      await rm(join(mnt, "filler"));
      const later = await putChunk(s, datas[0]!);
      const warnings: unknown[] = [];
      s = await reopen(s, { warn: (_m, d) => warnings.push(d) });
      assert.deepEqual(warnings, []);
      assert.ok((await read(s, "chunk", kept)).equals(patternBytes(4 * KiB, 1)));
      assert.ok((await read(s, "chunk", later)).equals(datas[0]!));
    } finally {
      // Closed first, whatever failed: open descriptors would keep the mount busy.
      if (s) {
        await s.close();
        stores.closed(s);
      }
      await execFileAsync("umount", [mnt]).catch(() => execFileAsync("umount", ["-l", mnt]));
    }
  });
});
