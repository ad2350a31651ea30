import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { ChunkStore, type StoreOptions } from "../src/node/store/index.ts";
import type { ObjectKind } from "../src/transport/api.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { putChunk, storeOptions } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const KiB = 1024;

/**
 * The store's cache of small objects (object-cache.ts), seen from outside: a cached body is
 * served without reading its file, so a file changed behind the store's back tells which path a
 * read took. The store itself always changes file and entry together.
 */
describe("ChunkStore cache of small objects", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let n = 0;
  const opened: ChunkStore[] = [];
  async function freshStore(extra: Partial<StoreOptions> = {}, dataDir?: string): Promise<ChunkStore> {
    const s = await ChunkStore.open(
      storeOptions(dataDir ?? join(dir.path, `s${++n}`), { cacheBytes: 64 * KiB, ...extra }),
    );
    opened.push(s);
    return s;
  }

  before(async () => {
    dir = await makeTempDir("dfs-store-cache-");
  });

  after(async () => {
    for (const s of opened) await s.close();
    await dir?.remove();
  });

  async function putManifest(store: ChunkStore, id: string, body: Buffer): Promise<void> {
    const w = await store.createWriter("manifest", id, body.length, sha256(body));
    w.end(body);
    await w.commit();
  }

  async function readSource(
    store: ChunkStore,
    kind: ObjectKind,
    id: string,
    offset?: number,
    length?: number,
  ) {
    const { size, length: count, source } = await store.openSource(kind, id, offset, length);
    const out = Buffer.alloc(count);
    let at = 0;
    try {
      // Small reads: a source must hand out its bytes in order over several calls.
      while (at < count) {
        const got = await source.read(out.subarray(at, at + 1000));
        if (got === 0) break;
        at += got;
      }
    } finally {
      await source.close();
    }
    return { size, bytes: out.subarray(0, at) };
  }

  /** Overwrites an object's file behind the store's back (same length, other bytes). */
  async function tamper(store: ChunkStore, kind: ObjectKind, id: string, bytes: Buffer): Promise<void> {
    const root = kind === "chunk" ? "chunks" : "manifests";
    const header = kind === "manifest" ? Buffer.alloc(32) : Buffer.alloc(0);
    await writeFile(
      join(store.dataDir, root, id.slice(0, 2), id.slice(2, 4), id),
      Buffer.concat([header, bytes]),
    );
  }

  const notFound = (err: unknown) => isDfsError(err, "DFS_ERR_NOT_FOUND");

  test("a small object just written is read from memory, whole and in ranges", async () => {
    const store = await freshStore();
    const data = patternBytes(5000, 1);
    const id = await putChunk(store, data);
    assert.deepEqual(store.cached, { objects: 1, bytes: 5000 });
    await tamper(store, "chunk", id, patternBytes(5000, 2));
    const whole = await readSource(store, "chunk", id);
    assert.equal(whole.size, 5000);
    assert.ok(whole.bytes.equals(data), "served from the cache, not the changed file");
    const part = await readSource(store, "chunk", id, 1234, 2000);
    assert.ok(part.bytes.equals(data.subarray(1234, 3234)));
    await assert.rejects(store.openSource("chunk", id, 4000, 2000), (err: unknown) =>
      isDfsError(err, "DFS_ERR_RANGE"),
    );
    // Scrub reads the disk, never the cache: the bad file is found and quarantined, and the entry goes with it.
    assert.equal(await store.verify("chunk", id), false);
    assert.equal(await store.quarantine("chunk", id), true);
    assert.deepEqual(store.cached, { objects: 0, bytes: 0 });
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
    assert.deepEqual(store.cached, { objects: 1, bytes: 8 });
    assert.equal(await store.delete("manifest", id), true);
    assert.deepEqual(store.cached, { objects: 0, bytes: 0 });
    await assert.rejects(store.openSource("manifest", id), notFound);
    assert.equal(await store.has("manifest", id), false);
  });

  test("memory stays within cacheBytes, the oldest going first", async () => {
    const store = await freshStore({ cacheBytes: 20 * KiB });
    const data = [1, 2, 3, 4].map((seed) => patternBytes(6 * KiB, seed));
    const ids: string[] = [];
    for (const d of data.slice(0, 3)) ids.push(await putChunk(store, d));
    assert.deepEqual(store.cached, { objects: 3, bytes: 18 * KiB });
    ids.push(await putChunk(store, data[3]!));
    assert.deepEqual(store.cached, { objects: 3, bytes: 18 * KiB });
    // The first went: its changed file shows; the second is still cached. (The second is read
    // first: reading the first fills the cache again, and that pushes the second out.)
    await tamper(store, "chunk", ids[0]!, patternBytes(6 * KiB, 9));
    await tamper(store, "chunk", ids[1]!, patternBytes(6 * KiB, 9));
    assert.ok((await readSource(store, "chunk", ids[1]!)).bytes.equals(data[1]!));
    assert.ok((await readSource(store, "chunk", ids[0]!)).bytes.equals(patternBytes(6 * KiB, 9)));
  });

  test("many rounds of the arena: every read gives the object's own bytes", async () => {
    const store = await freshStore({ cacheBytes: 20 * KiB });
    const written: { id: string; data: Buffer }[] = [];
    for (let i = 0; i < 60; i++) {
      // Sizes that do not divide the arena, so bodies straddle where the head comes round.
      const data = patternBytes(1 + ((i * 2477) % (9 * KiB)), 100 + i);
      written.push({ id: await putChunk(store, data), data });
      if (i % 7 === 3) await store.delete("chunk", written[i - 1]!.id);
      assert.ok(store.cached.bytes <= 20 * KiB, `${store.cached.bytes} bytes held`);
    }
    for (const [i, { id, data }] of written.entries()) {
      if (i % 7 === 2) continue; // deleted
      assert.ok((await readSource(store, "chunk", id)).bytes.equals(data), `object ${i}`);
    }
    assert.ok(store.cached.objects > 0);
  });

  test("large objects are not kept, nor anything when cacheBytes is 0", async () => {
    const store = await freshStore({ cacheBytes: 1024 * KiB });
    const big = patternBytes(64 * KiB + 1, 5);
    const bigId = await putChunk(store, big);
    assert.deepEqual(store.cached, { objects: 0, bytes: 0 });
    const changed = patternBytes(64 * KiB + 1, 6);
    await tamper(store, "chunk", bigId, changed);
    assert.ok((await readSource(store, "chunk", bigId)).bytes.equals(changed), "read from its file");

    const off = await freshStore({ cacheBytes: 0 });
    const small = patternBytes(100, 7);
    const smallId = await putChunk(off, small);
    assert.deepEqual(off.cached, { objects: 0, bytes: 0 });
    assert.ok((await readSource(off, "chunk", smallId)).bytes.equals(small));
    assert.deepEqual(off.cached, { objects: 0, bytes: 0 });
  });

  test("a read of a small object stored earlier fills the cache", async () => {
    const first = await freshStore();
    const data = patternBytes(3000, 8);
    const id = await putChunk(first, data);
    const dataDir = first.dataDir;
    await first.close();
    opened.splice(opened.indexOf(first), 1);
    const again = await freshStore({}, dataDir);
    assert.deepEqual(again.cached, { objects: 0, bytes: 0 });
    assert.ok((await readSource(again, "chunk", id, 10, 20)).bytes.equals(data.subarray(10, 30)));
    assert.deepEqual(again.cached, { objects: 1, bytes: 3000 });
    await tamper(again, "chunk", id, patternBytes(3000, 9));
    assert.ok((await readSource(again, "chunk", id)).bytes.equals(data));
  });

  test("a write that fails leaves no entry behind", async () => {
    const store = await freshStore();
    const data = patternBytes(2000, 10);
    const w = await store.createWriter("chunk", sha256(patternBytes(2000, 11)), data.length);
    w.end(data);
    await assert.rejects(w.commit(), (err: unknown) => isDfsError(err, "DFS_ERR_HASH_MISMATCH"));
    assert.deepEqual(store.cached, { objects: 0, bytes: 0 });
  });
});
