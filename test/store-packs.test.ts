import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFile, mkdir, readdir, readFile, rm, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { isDfsError } from "../src/errors.ts";
import { TokenBucket } from "../src/node/rate-limit.ts";
import type { ObjectStore, StoreOptions } from "../src/node/store/index.ts";
import type { ObjectKind } from "../src/transport/api.ts";
import { patternBytes, readAll, sha256 } from "./helpers/data.ts";
import { waitFor } from "./helpers/registry.ts";
import { putChunk, putManifest, readSource, storesForSuite, writesInProgress } from "./helpers/store.ts";

const KiB = 1024;
const execFileAsync = promisify(execFile);
/** pack-record.ts's header size: where a record's body starts. */
const HEADER = 88;

/**
 * Small objects in pack files (pack-log.ts), on a real disk: what a crash can leave, what a
 * restart rebuilds, group commit, compaction, and objects moving between packs and files.
 */
describe("ObjectStore packs of small objects", () => {
  const stores = storesForSuite("dfs-store-packs-", { packs: true });
  const openStore = stores.open;
  const freshStore = stores.fresh;
  async function reopen(s: ObjectStore, extra: Partial<StoreOptions> = {}): Promise<ObjectStore> {
    await s.close();
    stores.closed(s);
    return openStore(s.dataDir, extra);
  }

  async function read(store: ObjectStore, kind: ObjectKind, id: string, offset?: number, length?: number) {
    return readAll((await store.createReader(kind, id, { offset, length })).body);
  }

  /** Stores patternBytes(sizes[i], i + 1) as chunks, in order; their ids. */
  async function putPatterns<T extends number[]>(
    s: ObjectStore,
    sizes: [...T],
  ): Promise<{ [K in keyof T]: string }> {
    const ids: string[] = [];
    for (const [i, size] of sizes.entries()) ids.push(await putChunk(s, patternBytes(size, i + 1)));
    return ids as { [K in keyof T]: string };
  }
  /** Closes `s` (the test's to reopen) and says which pack it appended to last, and its size. */
  async function closeAtLastPack(s: ObjectStore): Promise<{ pack: string; bytes: number }> {
    const pack = await lastPack(s);
    const bytes = (await stat(pack)).size;
    await s.close();
    stores.closed(s);
    return { pack, bytes };
  }

  const packFiles = async (s: ObjectStore) => (await readdir(join(s.dataDir, "packs"))).sort();
  const lastPack = async (s: ObjectStore) => join(s.dataDir, "packs", (await packFiles(s)).at(-1)!);
  const filePath = (s: ObjectStore, kind: ObjectKind, id: string) =>
    join(s.dataDir, kind === "chunk" ? "chunks" : "manifests", id.slice(0, 2), id.slice(2, 4), id);
  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  test("small objects round-trip through a pack, with ranges; no file of their own is made", async () => {
    const s = await freshStore({ cacheBytes: 0 });
    // The cache is off: reads go to the pack (whole bodies, or piece by piece from a pinned pack).
    for (const size of [0, 1, 4 * KiB, 64 * KiB]) {
      const data = patternBytes(size, size + 7);
      const id = await putChunk(s, data);
      assert.equal(await s.has("chunk", id), true);
      assert.equal(await s.size("chunk", id), size);
      assert.ok((await read(s, "chunk", id)).equals(data), `chunk of ${size}`);
      assert.ok((await readSource(s, "chunk", id)).bytes.equals(data), `source of ${size}`);
      if (size > 10) {
        assert.ok((await read(s, "chunk", id, 3, 7)).equals(data.subarray(3, 10)));
        assert.ok((await readSource(s, "chunk", id, size - 5)).bytes.equals(data.subarray(size - 5)));
        assert.ok((await read(s, "chunk", id, 1, size - 2)).equals(data.subarray(1, size - 1)));
      }
      assert.equal(await s.verify("chunk", id), true);
      assert.equal(await exists(filePath(s, "chunk", id)), false);
    }
    const body = Buffer.from('{"a manifest":1}');
    const mid = sha256(Buffer.from("file-id"));
    await putManifest(s, mid, body);
    assert.ok((await read(s, "manifest", mid)).equals(body));
    assert.deepEqual(await writesInProgress(s.dataDir), []);
    // The pack holds each body after its header.
    const pack = await readFile(await lastPack(s));
    assert.ok(pack.includes(patternBytes(4 * KiB, 4 * KiB + 7)));
    assert.ok(pack.includes(body));
    // A range outside the body is refused as for a file.
    await assert.rejects(s.createReader("manifest", mid, { offset: body.length + 1 }), (err: unknown) =>
      isDfsError(err, "DFS_ERR_RANGE"),
    );
    const stats = await s.stats();
    assert.equal(stats.chunkCount, 4);
    assert.equal(stats.manifestCount, 1);
    assert.equal(stats.storedBytes, 1 + 4 * KiB + 64 * KiB + body.length);
    // A body over 64 KiB is a file.
    const big = await putChunk(s, patternBytes(64 * KiB + 1, 3));
    assert.equal(await exists(filePath(s, "chunk", big)), true);
    assert.ok((await read(s, "chunk", big)).equals(patternBytes(64 * KiB + 1, 3)));
  });

  test("writes that arrive together share one batch: one write and one fdatasync", async () => {
    const s = await freshStore();
    const before = s.counters.packBatches;
    const datas = Array.from({ length: 64 }, (_, i) => patternBytes(4 * KiB, 1000 + i));
    const ids = await Promise.all(datas.map((d) => putChunk(s, d)));
    const batches = s.counters.packBatches - before;
    assert.ok(batches >= 1 && batches <= 8, `64 concurrent writes took ${batches} batches`);
    for (const [i, id] of ids.entries()) assert.ok((await read(s, "chunk", id)).equals(datas[i]!));
  });

  test("a wrong hash or size stores nothing and leaves the pack as it was", async () => {
    const s = await freshStore();
    const good = await putChunk(s, patternBytes(100, 1));
    const sizeBefore = (await stat(await lastPack(s))).size;
    const data = patternBytes(4 * KiB, 2);
    const wrongId = sha256(patternBytes(4 * KiB, 3));
    const w = await s.createWriter({ kind: "chunk", id: wrongId, size: data.length });
    w.end(data);
    await assert.rejects(w.commit(), (err: unknown) => isDfsError(err, "DFS_ERR_HASH_MISMATCH"));
    const short = await s.createWriter({ kind: "chunk", id: sha256(data), size: data.length });
    short.end(data.subarray(1));
    await assert.rejects(short.commit(), (err: unknown) => isDfsError(err, "DFS_ERR_BAD_REQUEST"));
    assert.equal(await s.has("chunk", wrongId), false);
    assert.equal(await s.has("chunk", sha256(data)), false);
    assert.equal((await stat(await lastPack(s))).size, sizeBefore);
    assert.equal((await s.stats()).chunkCount, 1);
    assert.ok((await read(s, "chunk", good)).equals(patternBytes(100, 1)));
  });

  test("a restart rebuilds the index: replaced, deleted and kept objects, counts and bytes", async () => {
    let s = await freshStore();
    const kept = await putChunk(s, patternBytes(3000, 1));
    const gone = await putChunk(s, patternBytes(2000, 2));
    const mid = sha256(Buffer.from("m1"));
    await putManifest(s, mid, Buffer.from("first version"));
    await putManifest(s, mid, Buffer.from("second version, longer"));
    assert.equal(await s.delete("chunk", gone), true);
    assert.equal(await s.delete("chunk", gone), false);
    const writtenAt = await s.writtenAt("chunk", kept);
    assert.ok(writtenAt !== undefined && Math.abs(writtenAt - Date.now()) < 60_000);
    s = await reopen(s);
    assert.ok((await read(s, "chunk", kept)).equals(patternBytes(3000, 1)));
    assert.equal(await s.has("chunk", gone), false);
    assert.equal((await read(s, "manifest", mid)).toString(), "second version, longer");
    assert.equal(await s.writtenAt("chunk", kept), writtenAt);
    const stats = await s.stats();
    assert.equal(stats.chunkCount, 1);
    assert.equal(stats.manifestCount, 1);
    assert.equal(stats.storedBytes, 3000 + "second version, longer".length);
    assert.deepEqual((await s.list("chunk")).ids, [kept]);
  });

  test("a torn batch at the end of the last pack is cut off on open; what came before stays", async () => {
    let s = await freshStore();
    const [a, b] = await putPatterns(s, [5000, 6000]);
    const { pack, bytes: whole } = await closeAtLastPack(s);
    // A crash mid-batch: the header of a record made it, its body only partly.
    const lost = patternBytes(4000, 3);
    const raw = await readFile(pack);
    const header = Buffer.from(raw.subarray(whole - 6000 - HEADER, whole - 6000));
    header.write(sha256(lost), 8, 32, "hex");
    header.write(sha256(lost), 40, 32, "hex");
    header.writeUInt32LE(lost.length, 72);
    await appendFile(pack, Buffer.concat([header, lost.subarray(0, 1000)]));
    const warnings: Record<string, unknown>[] = [];
    s = await openStore(s.dataDir, { warn: (_message, details) => warnings.push(details) });
    assert.equal((await stat(pack)).size, whole, "the torn record is cut off");
    assert.deepEqual(
      warnings.map((w) => [w.at, w.bytes, w.cut]),
      [[whole, HEADER + 1000, true]],
    );
    assert.ok((await read(s, "chunk", a)).equals(patternBytes(5000, 1)));
    assert.ok((await read(s, "chunk", b)).equals(patternBytes(6000, 2)));
    assert.equal(await s.has("chunk", sha256(lost)), false);
    // Writes go on after the cut, and survive the next restart.
    const c = await putChunk(s, patternBytes(700, 4));
    s = await reopen(s);
    assert.ok((await read(s, "chunk", c)).equals(patternBytes(700, 4)));
    assert.equal((await s.stats()).chunkCount, 3);
  });

  test("a record that does not check is dropped on open; the records around it stay", async () => {
    let s = await freshStore();
    const [a, b, c] = await putPatterns(s, [5000, 6000, 7000]);
    const { pack, bytes: size } = await closeAtLastPack(s);
    const fs = await import("node:fs/promises");
    const handle = await fs.open(pack, "r+");
    await handle.write(Buffer.from([0xff]), 0, 1, HEADER + 10); // inside a's body: its hash fails
    await handle.write(Buffer.from([0xff]), 0, 1, HEADER + 5000 + 80); // inside b's header: its CRC fails
    await handle.close();
    s = await openStore(s.dataDir);
    assert.equal(await s.has("chunk", a), false);
    assert.equal(await s.has("chunk", b), false);
    assert.ok((await read(s, "chunk", c)).equals(patternBytes(7000, 3)));
    assert.equal((await stat(pack)).size, size, "nothing after them is cut");
    assert.equal((await s.stats()).chunkCount, 1);
  });

  test("verify finds a flipped byte in a packed object; quarantine moves it aside for good", async () => {
    let s = await freshStore({ cacheBytes: 0 });
    const data = patternBytes(4 * KiB, 9);
    const id = await putChunk(s, data);
    const mid = sha256(Buffer.from("m"));
    const body = Buffer.from("manifest body");
    await putManifest(s, mid, body);
    assert.equal(await s.verify("chunk", id), true);
    assert.equal(await s.verify("manifest", mid), true);
    const pack = await lastPack(s);
    const raw = await readFile(pack);
    const at = raw.indexOf(data) + 100;
    const handle = await import("node:fs/promises").then((fs) => fs.open(pack, "r+"));
    await handle.write(Buffer.from([raw[at]! ^ 0x01]), 0, 1, at);
    await handle.close();
    assert.equal(await s.verify("chunk", id), false);
    assert.equal(await s.verify("manifest", mid), true);
    assert.equal(await s.quarantine("chunk", id), true);
    assert.equal(await s.has("chunk", id), false);
    const aside = await readFile(join(s.dataDir, "quarantine", `chunk-${id}`));
    assert.equal(aside.length, data.length);
    assert.equal(aside[100], data[100]! ^ 0x01);
    assert.equal((await s.stats()).chunkCount, 0);
    s = await reopen(s);
    assert.equal(await s.has("chunk", id), false, "the removal record keeps it gone after a restart");
    assert.ok((await read(s, "manifest", mid)).equals(body));
  });

  test("list pages through files and packed objects together, in order, each once", async () => {
    const s = await freshStore();
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) ids.add(await putChunk(s, patternBytes(i % 3 === 0 ? 70 * KiB : 500, i)));
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await s.list("chunk", after, 7);
      seen.push(...page.ids);
      after = page.next;
    } while (after !== undefined);
    assert.deepEqual(seen, [...ids].sort());
    assert.deepEqual((await s.list("manifest")).ids, []);
  });

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
