import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ChunkCipher, type Manifest, sha256Hex } from "../src/crypto/index.ts";
import {
  manifestHeader,
  manifestIdOf,
  manifestNonce,
  openChunkBytes,
  openManifestBody,
  sealChunkBytes,
} from "./fixtures/crypto-format.ts";
import { bigPlaintext } from "./fixtures/make-vectors.ts";

interface Vectors {
  clusterKey: string;
  chunks: { plaintextHex: string; plainHash: string; chunkId: string; ciphertextHex: string }[];
  bigChunks: { size: number; plainHash: string; chunkId: string; headHex: string; tagHex: string }[];
  manifestIds: { fileHash: string; manifestId: string }[];
  manifests: { manifest: Manifest; sealedHex: string }[];
  tombstones: { fileHash: string; stamp: number; sealedHex: string }[];
}

const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, "fixtures/crypto-vectors.json"), "utf8"),
) as Vectors;
const key = Buffer.from(vectors.clusterKey, "hex");
const cipher = new ChunkCipher(key);

describe("crypto golden vectors (a failure here means the stored format changed)", () => {
  test("the vectors are all there", () => {
    assert.equal(key.length, 32);
    assert.ok(vectors.chunks.length >= 4 && vectors.bigChunks.length >= 1);
    assert.ok(vectors.manifestIds.length >= 3 && vectors.manifests.length >= 2);
  });

  test("chunks seal to exactly the pinned bytes and open again", () => {
    for (const v of vectors.chunks) {
      const plain = Buffer.from(v.plaintextHex, "hex");
      const sealed = cipher.seal(plain);
      assert.equal(sealed.ciphertext.toString("hex"), v.ciphertextHex);
      assert.equal(sealed.plainHash, v.plainHash);
      assert.equal(sealed.chunkId, v.chunkId);
      assert.ok(cipher.open(Buffer.from(v.ciphertextHex, "hex"), v.plainHash).equals(plain));
    }
  });

  test("a 1 MiB chunk seals to the pinned id", () => {
    for (const v of vectors.bigChunks) {
      const sealed = cipher.seal(bigPlaintext(v.size));
      assert.equal(sealed.plainHash, v.plainHash);
      assert.equal(sealed.chunkId, v.chunkId);
      assert.equal(sealed.ciphertext.subarray(0, 33).toString("hex"), v.headHex);
      assert.equal(sealed.ciphertext.subarray(-16).toString("hex"), v.tagHex);
    }
  });

  test("manifest ids are pinned", () => {
    for (const v of vectors.manifestIds) assert.equal(cipher.manifestId(v.fileHash), v.manifestId);
  });

  test("manifests seal to exactly the pinned bytes and open to the pinned manifest", () => {
    for (const v of vectors.manifests) {
      assert.equal(cipher.sealManifest(v.manifest).toString("hex"), v.sealedHex);
      assert.deepEqual(cipher.openManifest(v.manifest.hash, Buffer.from(v.sealedHex, "hex")), v.manifest);
    }
  });

  test("tombstones seal to exactly the pinned bytes", () => {
    for (const v of vectors.tombstones) {
      assert.equal(cipher.sealTombstone(v.fileHash, v.stamp).toString("hex"), v.sealedHex);
      assert.deepEqual(cipher.openStored(v.fileHash, Buffer.from(v.sealedHex, "hex")), {
        type: "tombstone",
        stamp: v.stamp,
      });
    }
  });
});

describe("the documented format, rebuilt from node:crypto, matches the vectors", () => {
  test("chunks", () => {
    for (const v of vectors.chunks) {
      const plain = Buffer.from(v.plaintextHex, "hex");
      const sealed = sealChunkBytes(key, plain);
      assert.equal(sealed.toString("hex"), v.ciphertextHex);
      assert.equal(sha256Hex(sealed), v.chunkId);
      assert.ok(openChunkBytes(key, sealed, v.plainHash).equals(plain));
    }
  });

  test("manifest ids", () => {
    for (const v of vectors.manifestIds) assert.equal(manifestIdOf(key, v.fileHash), v.manifestId);
  });

  test("manifests: canonical JSON, synthetic nonce, AES-GCM bound to the file hash", () => {
    for (const v of vectors.manifests) {
      const sealed = Buffer.from(v.sealedHex, "hex");
      const body = openManifestBody(key, v.manifest.hash, sealed);
      assert.equal(body.toString("utf8"), JSON.stringify(v.manifest));
      const ids = [...new Set(v.manifest.chunks.map((c) => c.id))];
      const header = manifestHeader(1, v.manifest.createdAt, ids);
      assert.ok(sealed.subarray(0, header.length).equals(header));
      const nonce = sealed.subarray(header.length, header.length + 12);
      assert.ok(nonce.equals(manifestNonce(key, v.manifest.hash, header, body)));
    }
  });

  test('tombstones: type 2, no chunks, body {"deleted": file hash}', () => {
    for (const v of vectors.tombstones) {
      const sealed = Buffer.from(v.sealedHex, "hex");
      const header = manifestHeader(2, v.stamp, []);
      assert.ok(sealed.subarray(0, header.length).equals(header));
      const body = openManifestBody(key, v.fileHash, sealed);
      assert.equal(body.toString("utf8"), JSON.stringify({ deleted: v.fileHash }));
    }
  });
});
