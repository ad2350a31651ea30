/**
 * ObjectStore writes and reads on a real disk: round trips, streaming with backpressure, ranges,
 * failed writes that leave nothing, hashLater (a node inside a chain) and manifests' checksums.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import type { ObjectStore } from "../src/node/store/index.ts";
import type { ObjectKind } from "../src/transport/api.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { storesForSuite, writesInProgress } from "./helpers/store.ts";
import { piecesOf, put, readRange, rejectsWith } from "./helpers/store-io.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("ObjectStore writes and reads", () => {
  const dir = storesForSuite("dfs-store-", { maxObjectBytes: 64 * MiB });
  const freshStore = dir.fresh;
  let store: ObjectStore;
  const inProgressOf = (s: ObjectStore) => writesInProgress(s.dataDir);

  before(async () => {
    store = await freshStore();
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
});
