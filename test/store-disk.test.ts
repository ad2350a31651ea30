/**
 * ObjectStore and its data directory: fan-out directories, the lock, id checks, listing, deletes,
 * scrub and quarantine, free space and capacity, the node id, and what an open cleans up.
 */
import assert from "node:assert/strict";
import { mkdir, open, readdir, readFile, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { DirSyncer } from "../src/node/store/dir-sync.ts";
import { FanoutDirs } from "../src/node/store/fanout-dirs.ts";
import { ObjectStore, type StoreOptions } from "../src/node/store/index.ts";
import type { ObjectKind } from "../src/transport/api.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { storeOptions, storesForSuite, writesInProgress } from "./helpers/store.ts";
import { piecesOf, put, readRange, rejectsWith } from "./helpers/store-io.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function options(dataDir: string, extra: Partial<StoreOptions> = {}): StoreOptions {
  return storeOptions(dataDir, { maxObjectBytes: 64 * MiB, ...extra });
}

describe("ObjectStore on disk", () => {
  const dir = storesForSuite("dfs-store-", { maxObjectBytes: 64 * MiB });
  const { fresh: freshStore, opened } = dir;
  let n = 0;
  const inProgressOf = (s: ObjectStore) => writesInProgress(s.dataDir);

  test("a write that makes fan-out directories also syncs their parents before it commits", async () => {
    // The file layout's directories (fanout-dirs.ts), driven as a write into manifests/ drives them.
    const root = join(dir.path, `fanout${++n}`, "manifests");
    await mkdir(root, { recursive: true });
    const syncer = new DirSyncer();
    const dirs = new FanoutDirs([root], syncer);
    const synced = async (id: string) => {
      const before = syncer.fsyncs;
      const at = join(root, id.slice(0, 2), id.slice(2, 4));
      await dirs.ensure(at);
      await writeFile(join(at, id), "x");
      await dirs.durable(at);
      return syncer.fsyncs - before;
    };
    // New ab/ and ab/cd/: the object's directory, ab/ (holds cd) and manifests/ (holds ab).
    assert.equal(await synced(`aaaa${"0".repeat(60)}`), 3);
    assert.equal(await synced(`aaaa${"1".repeat(60)}`), 1, "an existing directory: only its own sync");
    assert.equal(await synced(`aabb${"0".repeat(60)}`), 2, "a new cd/ under an existing ab/");
    const unsynced = new FanoutDirs([root]);
    const at = join(root, "cc", "cc");
    await unsynced.ensure(at);
    await unsynced.durable(at);
    assert.equal(syncer.fsyncs, 6, "a layout without a syncer (fsync off) syncs nothing");
    // And through the store: a write into new directories commits and survives a reopen.
    const s = await freshStore();
    const body = patternBytes(100, 11);
    const id = `dddd${"0".repeat(60)}`;
    await put(s, "manifest", id, [body], body.length, sha256(body));
    assert.ok((await readRange(s, "manifest", id)).bytes.equals(body));
  });

  test("a data directory held by a live store is refused, and nothing in it is touched", async () => {
    const dataDir = join(dir.path, `locked${++n}`);
    const first = await ObjectStore.open(options(dataDir));
    const body = patternBytes(5000, 21);
    await put(first, "chunk", sha256(body), [body], body.length);
    const inFlight = join(dataDir, "tmp", "chunk-in-flight");
    await writeFile(inFlight, "a write in progress");
    await assert.rejects(ObjectStore.open(options(dataDir)), (err: unknown) => {
      assert.ok(isDfsError(err, "DFS_ERR_DATA_DIR_LOCKED"), String(err));
      assert.match((err as Error).message, /lock\.db is locked/);
      return true;
    });
    assert.deepEqual(await readdir(join(dataDir, "tmp")), ["chunk-in-flight"], "tmp/ was emptied");
    await first.close();
    // Released by close: the next store takes it, empties tmp/, and earlier data is still there.
    // A pid file an older lock left beside it means nothing and goes.
    await writeFile(join(dataDir, "lock"), "12345\n");
    const second = await ObjectStore.open(options(dataDir));
    assert.deepEqual(await readdir(join(dataDir, "tmp")), []);
    await assert.rejects(stat(join(dataDir, "lock")), { code: "ENOENT" });
    assert.ok((await readRange(second, "chunk", sha256(body))).bytes.equals(body));
    await second.close();
    await stat(join(dataDir, "lock.db")); // kept: removing it would let two holders lock two inodes
  });

  test("ids are validated before any path is built", async () => {
    const s = await freshStore();
    const bad = ["../../../etc/passwd", "A".repeat(64), "a".repeat(63), `${"a".repeat(62)}/x`, ""];
    for (const id of bad) {
      await assert.rejects(
        s.createWriter({ kind: "chunk", id, size: 1 }),
        rejectsWith("DFS_ERR_BAD_REQUEST"),
      );
      await assert.rejects(s.has("chunk", id), rejectsWith("DFS_ERR_BAD_REQUEST"));
      await assert.rejects(s.size("manifest", id), rejectsWith("DFS_ERR_BAD_REQUEST"));
      await assert.rejects(s.createReader("chunk", id), rejectsWith("DFS_ERR_BAD_REQUEST"));
      await assert.rejects(s.delete("chunk", id), rejectsWith("DFS_ERR_BAD_REQUEST"));
      await assert.rejects(s.verify("chunk", id), rejectsWith("DFS_ERR_BAD_REQUEST"));
    }
    await assert.rejects(s.has("blob" as ObjectKind, "a".repeat(64)), rejectsWith("DFS_ERR_BAD_REQUEST"));
  });

  test("list pages through ids in order, each kind on its own", async () => {
    const s = await freshStore();
    const chunks: string[] = [];
    for (let i = 0; i < 25; i++) {
      const data = patternBytes(100 + i, i + 1000);
      chunks.push(sha256(data));
      await put(s, "chunk", sha256(data), [data], data.length);
    }
    const manifests: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = patternBytes(50, i + 2000);
      const id = sha256(Buffer.from(`m${i}`));
      manifests.push(id);
      await put(s, "manifest", id, [body], body.length, sha256(body));
    }
    chunks.sort();
    manifests.sort();

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await s.list("chunk", after, 10);
      pages++;
      seen.push(...page.ids);
      if (page.next === undefined) break;
      assert.equal(page.next, page.ids.at(-1));
      after = page.next;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, chunks);
    assert.deepEqual(await s.list("manifest"), { ids: manifests });
    assert.deepEqual(await s.list("chunk", chunks[24]), { ids: [] });
    assert.deepEqual((await s.list("chunk", chunks[11], 2)).ids, chunks.slice(12, 14));
    // A page that ends exactly at the last id has no next.
    assert.deepEqual(await s.list("chunk", chunks[19], 5), { ids: chunks.slice(20) });
    await assert.rejects(s.list("chunk", undefined, 0), rejectsWith("DFS_ERR_BAD_REQUEST"));
    const st = await s.stats();
    assert.equal(st.chunkCount, 25);
    assert.equal(st.manifestCount, 3);
  });

  test("delete removes an object and keeps the counters", async () => {
    const s = await freshStore();
    const data = patternBytes(5000, 5);
    const id = sha256(data);
    await put(s, "chunk", id, [data], data.length);
    // Writing the same object again replaces it without double counting.
    await put(s, "chunk", id, [data], data.length);
    assert.deepEqual(await s.stats().then((x) => [x.chunkCount, x.storedBytes]), [1, 5000]);
    assert.equal(await s.delete("chunk", id), true);
    assert.equal(await s.delete("chunk", id), false);
    assert.equal(await s.has("chunk", id), false);
    await assert.rejects(s.createReader("chunk", id), rejectsWith("DFS_ERR_NOT_FOUND"));
    assert.deepEqual(await s.stats().then((x) => [x.chunkCount, x.storedBytes]), [0, 0]);
  });

  test("delete with writtenBy keeps a copy written after that time, file or packed", async () => {
    for (const packs of [false, true]) {
      const s = await freshStore({ packs });
      const data = patternBytes(packs ? 3000 : 100_000, 6);
      const id = sha256(data);
      const before = Date.now() - 1000;
      await put(s, "chunk", id, [data], data.length);
      // What decided to delete it saw the store as it was a second ago: this copy is newer.
      assert.equal(await s.delete("chunk", id, { writtenBy: before }), false, `packs ${packs}`);
      assert.equal(await s.has("chunk", id), true);
      assert.equal(await s.delete("chunk", id, { writtenBy: Date.now() + 1000 }), true, `packs ${packs}`);
      assert.equal(await s.has("chunk", id), false);
      assert.equal(await s.delete("chunk", id, { writtenBy: Date.now() }), false, "gone already");
    }
  });

  test("verify detects a flipped byte, and quarantine moves the copy aside", async () => {
    const s = await freshStore();
    const data = patternBytes(300 * KiB, 6);
    const id = sha256(data);
    await put(s, "chunk", id, piecesOf(data), data.length);
    const body = patternBytes(1000, 7);
    const mid = sha256(Buffer.from("manifest to flip"));
    await put(s, "manifest", mid, [body], body.length, sha256(body));
    assert.equal(await s.verify("chunk", id), true);
    assert.equal(await s.verify("manifest", mid), true);

    for (const [dirName, objId, at] of [
      ["chunks", id, 123_456],
      ["manifests", mid, 32 + 999],
    ] as const) {
      const fh = await open(join(s.dataDir, dirName, objId.slice(0, 2), objId.slice(2, 4), objId), "r+");
      const one = Buffer.alloc(1);
      await fh.read(one, 0, 1, at);
      one[0]! ^= 0x40;
      await fh.write(one, 0, 1, at);
      await fh.close();
    }
    assert.equal(await s.verify("chunk", id), false);
    assert.equal(await s.verify("manifest", mid), false);
    await assert.rejects(s.verify("chunk", sha256(Buffer.from("nope"))), rejectsWith("DFS_ERR_NOT_FOUND"));

    assert.equal(await s.quarantine("chunk", id), true);
    assert.equal(await s.has("chunk", id), false);
    assert.ok((await readdir(join(s.dataDir, "quarantine"))).includes(`chunk-${id}`));
    assert.equal((await s.stats()).chunkCount, 0);
  });

  test("a reserve larger than the free space refuses writes; stored objects stay readable", async () => {
    const s = await freshStore();
    const data = patternBytes(10_000, 10);
    const id = sha256(data);
    await put(s, "chunk", id, [data], data.length);
    await s.close();

    const disk = await statfs(s.dataDir);
    const reserveBytes = disk.bavail * disk.bsize + 1024 * MiB;
    const full = await ObjectStore.open(options(s.dataDir, { reserveBytes }));
    opened.push(full);
    await assert.rejects(
      full.createWriter({ kind: "chunk", id: sha256(Buffer.from("more")), size: 4 }),
      (err: unknown) => {
        assert.ok(isDfsError(err, "DFS_ERR_DISK_FULL"));
        assert.match(err.message, /free space/);
        return true;
      },
    );
    assert.deepEqual(await inProgressOf(full), []);
    assert.ok((await readRange(full, "chunk", id)).bytes.equals(data));
    assert.equal((await full.stats()).freeBytes, 0);
  });

  test("capacityBytes limits what is stored, writes in progress included", async () => {
    const s = await freshStore({ capacityBytes: 1000 });
    const a = Buffer.alloc(600, 1);
    await put(s, "chunk", sha256(a), [a], a.length);
    const st = await s.stats();
    assert.equal(st.capacityBytes, 1000);
    assert.equal(st.freeBytes, 400);
    assert.equal(st.storedBytes, 600);
    const b = Buffer.alloc(500, 2);
    await assert.rejects(s.createWriter({ kind: "chunk", id: sha256(b), size: b.length }), (err: unknown) => {
      assert.ok(isDfsError(err, "DFS_ERR_DISK_FULL"));
      assert.match(err.message, /capacity/);
      return true;
    });
    const c = Buffer.alloc(300, 3);
    const pending = await s.createWriter({ kind: "chunk", id: sha256(c), size: c.length });
    await assert.rejects(
      s.createWriter({ kind: "chunk", id: sha256(b.subarray(0, 200)), size: 200 }),
      rejectsWith("DFS_ERR_DISK_FULL"),
    );
    pending.write(c);
    await pending.commit();
    assert.equal((await s.stats()).freeBytes, 100);
  });

  test("without a capacity, stats report the disk's size", async () => {
    const s = await freshStore({ reserveBytes: 4096 });
    const st = await s.stats();
    const disk = await statfs(s.dataDir);
    assert.equal(st.capacityBytes, disk.blocks * disk.bsize);
    assert.ok(st.freeBytes > 0 && st.freeBytes <= disk.bavail * disk.bsize - 4096);
  });

  test("the node id is created once and kept across reopen, with the counts", async () => {
    const s = await freshStore();
    assert.match(s.nodeId, /^[0-9a-f]{32}$/);
    assert.equal((await readFile(join(s.dataDir, "node-id"), "utf8")).trim(), s.nodeId);
    const data = patternBytes(2000, 12);
    await put(s, "chunk", sha256(data), [data], data.length);
    const body = patternBytes(100, 13);
    await put(s, "manifest", sha256(Buffer.from("m")), [body], body.length, sha256(body));
    await s.close();

    const again = await ObjectStore.open(options(s.dataDir));
    opened.push(again);
    assert.equal(again.nodeId, s.nodeId);
    const st = await again.stats();
    assert.deepEqual([st.chunkCount, st.manifestCount, st.storedBytes], [1, 1, 2100]);
    const other = await freshStore();
    assert.notEqual(other.nodeId, s.nodeId);
  });

  test("a corrupt node-id file is refused with a clear error", async () => {
    const d = join(dir.path, "bad-node-id");
    await mkdir(d, { recursive: true });
    await writeFile(join(d, "node-id"), "not an id\n");
    await assert.rejects(ObjectStore.open(options(d)), (err: unknown) => {
      assert.ok(isDfsError(err, "DFS_ERR_CONFIG"));
      assert.match(err.message, /node-id/);
      return true;
    });
  });

  test("stale files in tmp/ are removed on open", async () => {
    const s = await freshStore();
    await s.close();
    const tmp = join(s.dataDir, "tmp");
    await writeFile(join(tmp, "chunk-stale-1"), "partial");
    await mkdir(join(tmp, "odd-dir", "deeper"), { recursive: true });
    await writeFile(join(tmp, "odd-dir", "deeper", "f"), "x");
    const again = await ObjectStore.open(options(s.dataDir));
    opened.push(again);
    assert.deepEqual(await readdir(tmp), []);
  });

  test("a write in progress sits beside its object, is never listed, and a crash's is removed on open", async () => {
    const s = await freshStore();
    const data = patternBytes(300 * KiB, 15);
    const id = sha256(data);
    const w = await s.createWriter({ kind: "chunk", id, size: data.length });
    w.write(data.subarray(0, 100 * KiB));
    const [pending] = await inProgressOf(s);
    assert.match(pending ?? "", new RegExp(`^chunks/${id.slice(0, 2)}/${id.slice(2, 4)}/\\.tmp-${id}-`));
    assert.deepEqual((await s.list("chunk")).ids, []);
    assert.equal((await s.stats()).chunkCount, 0);
    // What a crash leaves: a temp file with no process behind it (this one's, once the store is closed).
    const left = join(s.dataDir, pending!);
    await s.close();
    await writeFile(left, data.subarray(0, 100 * KiB));
    const again = await ObjectStore.open(options(s.dataDir));
    opened.push(again);
    assert.deepEqual(await inProgressOf(again), []);
    assert.deepEqual((await again.list("chunk")).ids, []);
    assert.equal((await again.stats()).chunkCount, 0);
    await put(again, "chunk", id, [data], data.length);
    assert.ok((await readRange(again, "chunk", id)).bytes.equals(data));
  });

  test("close drops writes in progress and refuses new ones", async () => {
    const s = await freshStore();
    const data = patternBytes(100_000, 14);
    const w = await s.createWriter({ kind: "chunk", id: sha256(data), size: data.length });
    w.write(data.subarray(0, 50_000));
    await s.close();
    await assert.rejects(w.commit(), rejectsWith("DFS_ERR_SHUTTING_DOWN"));
    assert.deepEqual(await inProgressOf(s), []);
    await assert.rejects(
      s.createWriter({ kind: "chunk", id: sha256(data), size: data.length }),
      rejectsWith("DFS_ERR_SHUTTING_DOWN"),
    );
  });
});
