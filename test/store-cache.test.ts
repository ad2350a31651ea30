import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import type { ObjectStore, StoreOptions } from "../src/node/store/index.ts";
import { ObjectCache } from "../src/node/store/object-cache.ts";
import type { ObjectKind } from "../src/transport/api.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { putChunk, putManifest, readSource, storesForSuite } from "./helpers/store.ts";

const KiB = 1024;

/**
 * The store's cache of small objects (object-cache.ts), seen from outside: a cached body is
 * served without reading its file, so a file changed behind the store's back tells which path a
 * read took. The store itself always changes file and entry together.
 */
describe("ObjectStore cache of small objects", () => {
  const stores = storesForSuite("dfs-store-cache-", { cacheBytes: 64 * KiB });
  const freshStore = (extra: Partial<StoreOptions> = {}, dataDir?: string): Promise<ObjectStore> =>
    dataDir === undefined ? stores.fresh(extra) : stores.open(dataDir, extra);

  /** Overwrites an object's file behind the store's back (same length, other bytes). */
  async function tamper(store: ObjectStore, kind: ObjectKind, id: string, bytes: Buffer): Promise<void> {
    const root = kind === "chunk" ? "chunks" : "manifests";
    const header = kind === "manifest" ? Buffer.alloc(32) : Buffer.alloc(0);
    await writeFile(
      join(store.dataDir, root, id.slice(0, 2), id.slice(2, 4), id),
      Buffer.concat([header, bytes]),
    );
  }

  const notFound = (err: unknown) => isDfsError(err, "DFS_ERR_NOT_FOUND");
  const cacheCounts = (store: ObjectStore) => ({
    hits: store.counters.cacheHits,
    misses: store.counters.cacheMisses,
  });

  test("a small object just written is read from memory, whole and in ranges", async () => {
    const store = await freshStore();
    const data = patternBytes(5000, 1);
    const id = await putChunk(store, data);
    await tamper(store, "chunk", id, patternBytes(5000, 2));
    const whole = await readSource(store, "chunk", id);
    assert.equal(whole.size, 5000);
    assert.ok(whole.bytes.equals(data), "served from the cache, not the changed file");
    assert.deepEqual(cacheCounts(store), { hits: 1, misses: 0 });
    const part = await readSource(store, "chunk", id, 1234, 2000);
    assert.ok(part.bytes.equals(data.subarray(1234, 3234)));
    await assert.rejects(store.openSource("chunk", id, { offset: 4000, length: 2000 }), (err: unknown) =>
      isDfsError(err, "DFS_ERR_RANGE"),
    );
    // Scrub reads the disk, never the cache: the bad file is found and quarantined, and the entry goes with it.
    assert.equal(await store.verify("chunk", id), false);
    assert.equal(await store.quarantine("chunk", id), true);
    // The entry went with it: neither a read nor has() finds it in memory.
    await assert.rejects(store.openSource("chunk", id), notFound);
    assert.equal(await store.has("chunk", id), false);
  });

  test("a delete drops the entry; a replaced manifest is read in its new version", async () => {
    const store = await freshStore();
    const id = "ab".repeat(32);
    await putManifest(store, id, Buffer.from('{"v":1}'));
    assert.equal((await readSource(store, "manifest", id)).bytes.toString(), '{"v":1}');
    await putManifest(store, id, Buffer.from('{"v":22}'));
    assert.equal((await readSource(store, "manifest", id)).bytes.toString(), '{"v":22}');
    assert.deepEqual(cacheCounts(store), { hits: 2, misses: 0 }, "both versions read from memory");
    assert.equal(await store.delete("manifest", id), true);
    await assert.rejects(store.openSource("manifest", id), notFound);
    assert.equal(await store.has("manifest", id), false);
  });

  test("memory stays within cacheBytes, the oldest going first", async () => {
    const store = await freshStore({ cacheBytes: 20 * KiB });
    const data = [1, 2, 3, 4].map((seed) => patternBytes(6 * KiB, seed));
    const ids: string[] = [];
    for (const d of data) ids.push(await putChunk(store, d));
    // Three of 6 KiB fit in 20 KiB: the first went, its changed file shows; the last three are
    // still cached. (They are read first: reading the first fills the cache again, and that
    // pushes the second out.)
    for (const id of ids) await tamper(store, "chunk", id, patternBytes(6 * KiB, 9));
    for (const i of [1, 2, 3]) assert.ok((await readSource(store, "chunk", ids[i]!)).bytes.equals(data[i]!));
    assert.deepEqual(cacheCounts(store), { hits: 3, misses: 0 });
    assert.ok((await readSource(store, "chunk", ids[0]!)).bytes.equals(patternBytes(6 * KiB, 9)));
    assert.deepEqual(cacheCounts(store), { hits: 3, misses: 1 });
  });

  test("many rounds of the arena: every read gives the object's own bytes", async () => {
    const store = await freshStore({ cacheBytes: 20 * KiB });
    const written: { id: string; data: Buffer }[] = [];
    for (let i = 0; i < 60; i++) {
      // Sizes that do not divide the arena, so bodies straddle where the head comes round.
      const data = patternBytes(1 + ((i * 2477) % (9 * KiB)), 100 + i);
      written.push({ id: await putChunk(store, data), data });
      if (i % 7 === 3) await store.delete("chunk", written[i - 1]!.id);
    }
    for (const [i, { id, data }] of written.entries()) {
      if (i % 7 === 2) continue; // deleted
      assert.ok((await readSource(store, "chunk", id)).bytes.equals(data), `object ${i}`);
    }
    // The last body read is still in memory.
    const { hits } = cacheCounts(store);
    const last = written.at(-1)!;
    assert.ok((await readSource(store, "chunk", last.id)).bytes.equals(last.data));
    assert.equal(cacheCounts(store).hits, hits + 1);
  });

  test("the arena holds at most its bytes, whatever comes and goes", () => {
    const cache = new ObjectCache(20 * KiB);
    for (let i = 0; i < 60; i++) {
      const body = patternBytes(1 + ((i * 2477) % (9 * KiB)), 100 + i);
      const id = sha256(body);
      cache.set("chunk", id, body);
      if (i % 7 === 3) cache.delete("chunk", id);
      assert.ok(cache.bytes <= 20 * KiB, `${cache.bytes} bytes held`);
      if (i % 7 !== 3) assert.ok(cache.get("chunk", id)?.equals(body), `body ${i} as set`);
    }
    assert.ok(cache.size > 0);
  });

  test("large objects are not kept, nor anything when cacheBytes is 0", async () => {
    const store = await freshStore({ cacheBytes: 1024 * KiB });
    const big = patternBytes(64 * KiB + 1, 5);
    const bigId = await putChunk(store, big);
    const changed = patternBytes(64 * KiB + 1, 6);
    await tamper(store, "chunk", bigId, changed);
    assert.ok((await readSource(store, "chunk", bigId)).bytes.equals(changed), "read from its file");
    assert.deepEqual(cacheCounts(store), { hits: 0, misses: 0 }, "too large to be a miss: never kept");

    const off = await freshStore({ cacheBytes: 0 });
    const small = patternBytes(100, 7);
    const smallId = await putChunk(off, small);
    await tamper(off, "chunk", smallId, patternBytes(100, 8));
    assert.ok(
      (await readSource(off, "chunk", smallId)).bytes.equals(patternBytes(100, 8)),
      "read from its file",
    );
    assert.ok((await readSource(off, "chunk", smallId)).bytes.equals(patternBytes(100, 8)), "and again");
    assert.deepEqual(cacheCounts(off), { hits: 0, misses: 0 });
  });

  test("a read of a small object stored earlier fills the cache", async () => {
    const first = await freshStore();
    const data = patternBytes(3000, 8);
    const id = await putChunk(first, data);
    const dataDir = first.dataDir;
    await first.close();
    stores.closed(first);
    const again = await freshStore({}, dataDir);
    assert.ok((await readSource(again, "chunk", id, 10, 20)).bytes.equals(data.subarray(10, 30)));
    assert.deepEqual(cacheCounts(again), { hits: 0, misses: 1 }, "nothing in memory after a restart");
    await tamper(again, "chunk", id, patternBytes(3000, 9));
    assert.ok((await readSource(again, "chunk", id)).bytes.equals(data));
    assert.deepEqual(cacheCounts(again), { hits: 1, misses: 1 }, "the whole body was kept");
  });

  test("a write that fails leaves no entry behind", async () => {
    const store = await freshStore();
    const data = patternBytes(2000, 10);
    const w = await store.createWriter({
      kind: "chunk",
      id: sha256(patternBytes(2000, 11)),
      size: data.length,
    });
    w.end(data);
    await assert.rejects(w.commit(), (err: unknown) => isDfsError(err, "DFS_ERR_HASH_MISMATCH"));
    // has() looks in memory first: false means no entry either.
    assert.equal(await store.has("chunk", sha256(patternBytes(2000, 11))), false);
    await assert.rejects(store.openSource("chunk", sha256(patternBytes(2000, 11))), notFound);
  });
});
