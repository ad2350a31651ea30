import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ErrorCode, isDfsError } from "../src/errors.ts";
import { DirSyncer } from "../src/node/store/dir-sync.ts";
import { FanoutDirs } from "../src/node/store/fanout-dirs.ts";
import { ObjectStore, type ObjectWriter, type StoreOptions } from "../src/node/store/index.ts";
import type { ObjectKind } from "../src/transport/api.ts";
import { patternBytes, readAll, sha256 } from "./helpers/data.ts";
import { storeOptions, writesInProgress } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function options(dataDir: string, extra: Partial<StoreOptions> = {}): StoreOptions {
  return storeOptions(dataDir, { maxObjectBytes: 64 * MiB, ...extra });
}

function rejectsWith(code: ErrorCode) {
  return (err: unknown) => {
    assert.ok(isDfsError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  };
}

function drained(w: ObjectWriter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off("drain", done);
      w.off("close", done);
      resolve();
    };
    w.on("drain", done);
    w.on("close", done);
  });
}

/**
 * Writes pieces with backpressure, as a socket handler would, then commits. `vouched`: the writer
 * is made with `hashLater` and committed with the promise it makes then (a node inside a chain).
 */
async function put(
  store: ObjectStore,
  kind: ObjectKind,
  id: string,
  pieces: Iterable<Buffer>,
  size: number,
  checksum?: string,
  vouched?: () => Promise<boolean>,
): Promise<void> {
  const w = await store.createWriter({ kind, id, size, checksum, hashLater: vouched !== undefined });
  for (const piece of pieces) {
    if (w.destroyed) break;
    if (!w.write(piece)) await drained(w);
  }
  await w.commit(vouched?.());
}

function* piecesOf(data: Buffer, pieceBytes = 256 * KiB): Generator<Buffer> {
  for (let i = 0; i < data.length; i += pieceBytes) yield data.subarray(i, i + pieceBytes);
}

async function readRange(store: ObjectStore, kind: ObjectKind, id: string, offset?: number, length?: number) {
  const { size, body } = await store.createReader(kind, id, { offset, length });
  return { size, bytes: await readAll(body) };
}

describe("ObjectStore", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let store: ObjectStore;
  let n = 0;
  /** A fresh store in its own folder, closed after the suite. */
  const opened: ObjectStore[] = [];
  async function freshStore(extra: Partial<StoreOptions> = {}): Promise<ObjectStore> {
    const s = await ObjectStore.open(options(join(dir.path, `s${++n}`), extra));
    opened.push(s);
    return s;
  }
  const inProgressOf = (s: ObjectStore) => writesInProgress(s.dataDir);

  before(async () => {
    dir = await makeTempDir("dfs-store-");
    store = await freshStore();
  });

  after(async () => {
    for (const s of opened) await s.close();
    await dir?.remove();
  });

  for (const size of [0, 1, MiB]) {
    test(`round-trips a chunk of ${size} bytes`, async () => {
      const data = patternBytes(size, size + 3);
      const id = sha256(data);
      await put(store, "chunk", id, piecesOf(data), size);
      assert.equal(await store.has("chunk", id), true);
      assert.equal(await store.size("chunk", id), size);
      const back = await readRange(store, "chunk", id);
      assert.equal(back.size, size);
      assert.ok(back.bytes.equals(data));
      // Content-addressed layout: chunks/ab/cd/<id>.
      const onDisk = await readFile(join(store.dataDir, "chunks", id.slice(0, 2), id.slice(2, 4), id));
      assert.ok(onDisk.equals(data));
      assert.deepEqual(await inProgressOf(store), []);
    });
  }

  test("streams 64 MiB in and out in 256 KiB pieces", async () => {
    const s = await freshStore({ fsync: false });
    const count = 256;
    // Pieces are made on demand: the whole object never sits in memory.
    const piece = (i: number) => patternBytes(256 * KiB, i + 1);
    const hash = createHash("sha256");
    for (let i = 0; i < count; i++) hash.update(piece(i));
    const id = hash.digest("hex");
    const gen = function* () {
      for (let i = 0; i < count; i++) yield piece(i);
    };
    await put(s, "chunk", id, gen(), count * 256 * KiB);

    const { size, body } = await s.createReader("chunk", id);
    assert.equal(size, 64 * MiB);
    const back = createHash("sha256");
    let total = 0;
    for await (const p of body) {
      back.update(p as Buffer);
      total += (p as Buffer).length;
    }
    assert.equal(total, 64 * MiB);
    assert.equal(back.digest("hex"), id);
    assert.equal((await s.stats()).storedBytes, 64 * MiB);
  });

  test("write() asks the caller to wait when pieces pile up", async () => {
    const data = patternBytes(4 * MiB, 77);
    const w = await store.createWriter({ kind: "chunk", id: sha256(data), size: data.length });
    let refused = false;
    for (const piece of piecesOf(data)) if (!w.write(piece)) refused = true;
    assert.ok(refused, "write() returned false at least once");
    await w.commit();
  });

  describe("ranges", () => {
    const data = patternBytes(MiB + 17, 42);
    const id = sha256(data);
    before(() => put(store, "chunk", id, piecesOf(data), data.length));

    const cases: [string, number | undefined, number | undefined, number, number][] = [
      ["the start", 0, 100, 0, 100],
      ["the middle", 500_000, 70_000, 500_000, 570_000],
      ["the end (length defaults to the rest)", data.length - 10, undefined, data.length - 10, data.length],
      ["the whole", undefined, undefined, 0, data.length],
      ["an empty range at the end", data.length, 0, 0, 0],
      ["an empty range in the middle", 5, 0, 0, 0],
    ];
    for (const [name, offset, length, from, to] of cases) {
      test(`reads ${name}`, async () => {
        const got = await readRange(store, "chunk", id, offset, length);
        assert.equal(got.size, data.length);
        assert.ok(got.bytes.equals(data.subarray(from, to)));
      });
    }

    const bad: [number, number | undefined][] = [
      [data.length + 1, undefined],
      [0, data.length + 1],
      [data.length - 1, 2],
      [-1, 10],
      [0, -1],
      [1.5, 3],
    ];
    for (const [offset, length] of bad) {
      test(`refuses offset=${offset} length=${length} with DFS_ERR_RANGE`, async () => {
        await assert.rejects(
          store.createReader("chunk", id, { offset, length }),
          rejectsWith("DFS_ERR_RANGE"),
        );
      });
    }

    test("an absent object is DFS_ERR_NOT_FOUND", async () => {
      const absent = sha256(Buffer.from("absent"));
      await assert.rejects(store.createReader("chunk", absent), rejectsWith("DFS_ERR_NOT_FOUND"));
      assert.equal(await store.size("chunk", absent), undefined);
      assert.equal(await store.has("chunk", absent), false);
    });
  });

  describe("failed writes leave nothing", () => {
    async function assertAbsent(s: ObjectStore, kind: ObjectKind, id: string): Promise<void> {
      assert.equal(await s.has(kind, id), false);
      const root = join(s.dataDir, kind === "chunk" ? "chunks" : "manifests");
      await assert.rejects(stat(join(root, id.slice(0, 2), id.slice(2, 4), id)), { code: "ENOENT" });
      assert.deepEqual(await inProgressOf(s), []);
    }

    test("wrong bytes are DFS_ERR_HASH_MISMATCH", async () => {
      const data = patternBytes(600 * KiB, 1);
      const id = sha256(data);
      const wrong = Buffer.from(data);
      wrong[300_000]! ^= 1;
      await assert.rejects(
        put(store, "chunk", id, piecesOf(wrong), wrong.length),
        rejectsWith("DFS_ERR_HASH_MISMATCH"),
      );
      await assertAbsent(store, "chunk", id);
    });

    test("more bytes than declared are DFS_ERR_TOO_LARGE", async () => {
      const data = patternBytes(300 * KiB, 2);
      const id = sha256(data.subarray(0, 200 * KiB));
      await assert.rejects(
        put(store, "chunk", id, piecesOf(data, 64 * KiB), 200 * KiB),
        rejectsWith("DFS_ERR_TOO_LARGE"),
      );
      await assertAbsent(store, "chunk", id);
    });

    test("a size over maxObjectBytes is DFS_ERR_TOO_LARGE before any byte", async () => {
      const s = await freshStore({ maxObjectBytes: 1000 });
      await assert.rejects(
        s.createWriter({ kind: "chunk", id: "a".repeat(64), size: 1001 }),
        rejectsWith("DFS_ERR_TOO_LARGE"),
      );
      assert.deepEqual(await inProgressOf(s), []);
    });

    test("fewer bytes than declared are DFS_ERR_BAD_REQUEST at commit", async () => {
      const data = patternBytes(100 * KiB, 3);
      const id = sha256(data);
      await assert.rejects(
        put(store, "chunk", id, piecesOf(data.subarray(0, 99 * KiB)), data.length),
        rejectsWith("DFS_ERR_BAD_REQUEST"),
      );
      await assertAbsent(store, "chunk", id);
    });

    test("abort drops the write; it is idempotent and commit then rejects", async () => {
      const data = patternBytes(500 * KiB, 4);
      const id = sha256(data);
      const w = await store.createWriter({ kind: "chunk", id, size: data.length });
      w.write(data.subarray(0, 200 * KiB));
      assert.equal((await inProgressOf(store)).length, 1);
      await w.abort();
      await w.abort(new Error("again"));
      await assert.rejects(w.commit(), rejectsWith("DFS_ERR_CANCELLED"));
      await assertAbsent(store, "chunk", id);
    });

    test("abort after a failed commit is safe", async () => {
      const id = sha256(Buffer.from("x"));
      const w = await store.createWriter({ kind: "chunk", id, size: 1 });
      w.write(Buffer.from("y"));
      await assert.rejects(w.commit(), rejectsWith("DFS_ERR_HASH_MISMATCH"));
      await w.abort();
      await assertAbsent(store, "chunk", id);
    });

    test("a failed write frees its promised space", async () => {
      const s = await freshStore({ capacityBytes: 1000 });
      const w = await s.createWriter({ kind: "chunk", id: "b".repeat(64), size: 1000 });
      await assert.rejects(
        s.createWriter({ kind: "chunk", id: "c".repeat(64), size: 1 }),
        rejectsWith("DFS_ERR_DISK_FULL"),
      );
      await w.abort();
      const data = Buffer.alloc(1000, 9);
      await put(s, "chunk", sha256(data), [data], data.length);
    });
  });

  describe("hashLater (a node inside a chain, vouched for by the next one)", () => {
    const objectPath = (s: ObjectStore, kind: ObjectKind, id: string) =>
      join(s.dataDir, kind === "chunk" ? "chunks" : "manifests", id.slice(0, 2), id.slice(2, 4), id);

    test("not vouched for: the bytes are read back and hashed; wrong ones leave nothing", async () => {
      const data = patternBytes(MiB + 5, 21);
      const id = sha256(data);
      const wrong = Buffer.from(data);
      wrong[MiB]! ^= 1;
      // A verdict that fails (say, the next node's answer never came) counts as no vouch.
      const gone = () => new Promise<boolean>((_, reject) => setTimeout(() => reject(new Error("gone")), 10));
      const verdicts = [() => Promise.resolve(false), gone];
      for (const vouched of verdicts) {
        await assert.rejects(
          put(store, "chunk", id, piecesOf(wrong), wrong.length, undefined, vouched),
          rejectsWith("DFS_ERR_HASH_MISMATCH"),
        );
        assert.equal(await store.has("chunk", id), false);
        assert.deepEqual(await inProgressOf(store), []);
      }
      await put(store, "chunk", id, piecesOf(data), data.length, undefined, () => Promise.resolve(false));
      assert.ok((await readRange(store, "chunk", id)).bytes.equals(data));
    });

    test("a manifest is read back after its checksum header; a small object from its copy", async () => {
      const body = patternBytes(70_000, 22);
      const id = sha256(Buffer.from("a chained manifest"));
      await put(store, "manifest", id, piecesOf(body, 16 * KiB), body.length, sha256(body), () =>
        Promise.resolve(false),
      );
      assert.ok((await readRange(store, "manifest", id)).bytes.equals(body));
      const wrongSum = sha256(Buffer.from("not this body"));
      const other = sha256(Buffer.from("another chained manifest"));
      await assert.rejects(
        put(store, "manifest", other, [body], body.length, wrongSum, () => Promise.resolve(false)),
        rejectsWith("DFS_ERR_HASH_MISMATCH"),
      );
      const packed = await freshStore({ packs: true });
      const small = patternBytes(3000, 23);
      const bad = Buffer.from(small);
      bad[0]! ^= 1;
      await assert.rejects(
        put(packed, "chunk", sha256(small), [bad], bad.length, undefined, () => Promise.resolve(false)),
        rejectsWith("DFS_ERR_HASH_MISMATCH"),
      );
      await put(packed, "chunk", sha256(small), [small], small.length, undefined, () =>
        Promise.resolve(false),
      );
      assert.ok((await readRange(packed, "chunk", sha256(small))).bytes.equals(small));
    });

    test("vouched for: published as written, without a hash of its own (the next node checked)", async () => {
      // What the contract trusts, shown with bytes that would fail the check: a chain only vouches
      // when the next node stored the very pieces this node wrote, after checking them.
      const data = patternBytes(200 * KiB, 24);
      const id = sha256(Buffer.from("what the next node would have refused"));
      await put(store, "chunk", id, piecesOf(data), data.length, undefined, () => Promise.resolve(true));
      assert.ok((await readFile(objectPath(store, "chunk", id))).equals(data));
      assert.equal(await store.verify("chunk", id), false, "scrub still finds such a copy");
    });
  });

  describe("manifests", () => {
    test("round-trip with a checksum header on disk and body sizes reported", async () => {
      const body = patternBytes(70_000, 8);
      const checksum = sha256(body);
      const id = sha256(Buffer.from("some manifest id"));
      await put(store, "manifest", id, piecesOf(body, 16 * KiB), body.length, checksum);
      assert.equal(await store.size("manifest", id), body.length);
      assert.equal(await store.has("chunk", id), false, "kinds are separate");
      const onDisk = await readFile(join(store.dataDir, "manifests", id.slice(0, 2), id.slice(2, 4), id));
      assert.equal(onDisk.length, 32 + body.length);
      assert.equal(onDisk.subarray(0, 32).toString("hex"), checksum);
      const whole = await readRange(store, "manifest", id);
      assert.equal(whole.size, body.length);
      assert.ok(whole.bytes.equals(body));
      const part = await readRange(store, "manifest", id, 10, 20);
      assert.ok(part.bytes.equals(body.subarray(10, 30)));
      assert.equal(await store.verify("manifest", id), true);
    });

    test("an empty body still gets its checksum header", async () => {
      const empty = Buffer.alloc(0);
      const id = sha256(Buffer.from("an empty manifest"));
      await put(store, "manifest", id, [], 0, sha256(empty));
      const onDisk = await readFile(join(store.dataDir, "manifests", id.slice(0, 2), id.slice(2, 4), id));
      assert.equal(onDisk.toString("hex"), sha256(empty));
      assert.equal(await store.size("manifest", id), 0);
      assert.equal(await store.verify("manifest", id), true);
    });

    test("a wrong checksum is refused", async () => {
      const body = patternBytes(1000, 9);
      const id = sha256(Buffer.from("manifest 2"));
      await assert.rejects(
        put(store, "manifest", id, [body], body.length, sha256(Buffer.from("other"))),
        rejectsWith("DFS_ERR_HASH_MISMATCH"),
      );
      assert.equal(await store.has("manifest", id), false);
      assert.deepEqual(await inProgressOf(store), []);
    });

    test("a missing or malformed checksum is DFS_ERR_BAD_REQUEST", async () => {
      const id = sha256(Buffer.from("manifest 3"));
      await assert.rejects(
        store.createWriter({ kind: "manifest", id, size: 10 }),
        rejectsWith("DFS_ERR_BAD_REQUEST"),
      );
      await assert.rejects(
        store.createWriter({ kind: "manifest", id, size: 10, checksum: "XYZ" }),
        rejectsWith("DFS_ERR_BAD_REQUEST"),
      );
    });
  });

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
