/**
 * Small objects in pack files (pack-log.ts), on a real disk: records written, batched, read and
 * checked, and what a restart rebuilds from them after a crash tore or damaged one.
 */
import assert from "node:assert/strict";
import { appendFile, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { packStoresForSuite } from "./helpers/packs.ts";
import { putChunk, putManifest, readSource, writesInProgress } from "./helpers/store.ts";

const KiB = 1024;
/** pack-record.ts's header size: where a record's body starts. */
const HEADER = 88;

describe("ObjectStore packs of small objects: records", () => {
  const { openStore, freshStore, reopen, read, putPatterns, closeAtLastPack, lastPack, filePath, exists } =
    packStoresForSuite("dfs-store-packs-");

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
});
