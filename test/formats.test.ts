import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChunkCipher, type Manifest, sha256Hex } from "../src/crypto/index.ts";
import { isObjectId, objectIdAt, objectIdBytes, parseManifestHeader, wins } from "../src/formats/index.ts";

const cipher = new ChunkCipher(Buffer.alloc(32, 7));
const a = cipher.seal(Buffer.from("chunk a"));
const b = cipher.seal(Buffer.from("chunk b"));
const manifest: Manifest = {
  version: 1,
  hash: sha256Hex(Buffer.from("file")),
  size: 21,
  name: "f",
  contentType: "text/plain",
  chunkBytes: 7,
  createdAt: 1767225600123,
  chunks: [
    { id: a.chunkId, plainHash: a.plainHash, size: 7 },
    { id: b.chunkId, plainHash: b.plainHash, size: 7 },
    { id: a.chunkId, plainHash: a.plainHash, size: 7 },
  ],
};

describe("the key-free manifest header parser reads what src/crypto seals", () => {
  test("a manifest: its distinct chunk ids in file order, its createdAt as stamp", () => {
    const sealed = cipher.sealManifest(manifest);
    const h = parseManifestHeader(sealed);
    assert.deepEqual(h, { type: "manifest", stamp: manifest.createdAt, chunkIds: [a.chunkId, b.chunkId] });
    // A prefix asks for more; the exact header length is enough.
    assert.deepEqual(parseManifestHeader(sealed.subarray(0, 20)), { need: 14 + 64 });
    assert.deepEqual(parseManifestHeader(sealed.subarray(0, 14 + 64)), h);
  });

  test("a tombstone: no chunks; it wins over an older manifest, loses to a newer one", () => {
    const t = parseManifestHeader(cipher.sealTombstone(manifest.hash, manifest.createdAt + 5));
    assert.deepEqual(t, { type: "tombstone", stamp: manifest.createdAt + 5, chunkIds: [] });
    const m = parseManifestHeader(cipher.sealManifest(manifest));
    assert.ok(t && !("need" in t) && m && !("need" in m));
    assert.ok(wins(t, m) && !wins(m, t));
    const later = parseManifestHeader(
      cipher.sealManifest({ ...manifest, createdAt: manifest.createdAt + 9 }),
    );
    assert.ok(later && !("need" in later) && wins(later, t));
    assert.throws(() => cipher.openManifest(manifest.hash, cipher.sealTombstone(manifest.hash, 1)), {
      code: "DFS_ERR_NOT_FOUND",
    });
  });

  test("anything else is not a header", () => {
    assert.equal(parseManifestHeader(Buffer.alloc(0)), undefined);
    assert.equal(parseManifestHeader(Buffer.alloc(64, 1)), undefined);
    assert.equal(parseManifestHeader(a.ciphertext), undefined);
  });
});

describe("object ids", () => {
  test("64 lowercase hex characters, and nothing else", () => {
    assert.ok(isObjectId(a.chunkId));
    for (const bad of [
      a.chunkId.toUpperCase(),
      a.chunkId.slice(1),
      `${a.chunkId}0`,
      "g".repeat(64),
      7,
      undefined,
    ]) {
      assert.equal(isObjectId(bad), false, String(bad));
    }
  });

  test("hex to raw and back; a malformed id is DFS_ERR_INVALID_HASH", () => {
    const raw = objectIdBytes(a.chunkId);
    assert.equal(raw.length, 32);
    assert.equal(objectIdAt(Buffer.concat([Buffer.of(9), raw]), 1), a.chunkId);
    assert.throws(() => objectIdBytes("ab"), { code: "DFS_ERR_INVALID_HASH" });
  });
});
