import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { CHUNK_OVERHEAD, ChunkCipher, type Manifest, sha256Hex } from "../src/crypto/index.ts";
import { type ErrorCode, isDfsError } from "../src/errors.ts";
import { sealChunkUnder, sealManifestBody } from "./fixtures/crypto-format.ts";
import { patternBytes } from "./helpers/data.ts";

const KEY = Buffer.alloc(32, 0x42);
const cipher = new ChunkCipher(KEY);

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDfsError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

function manifestOf(data: Buffer, chunkBytes: number, extra: Partial<Manifest> = {}): Manifest {
  const chunks = [];
  for (let at = 0; at < data.length; at += chunkBytes) {
    const s = cipher.seal(data.subarray(at, at + chunkBytes));
    chunks.push({ id: s.chunkId, plainHash: s.plainHash, size: Math.min(chunkBytes, data.length - at) });
  }
  return {
    version: 1,
    hash: sha256Hex(data),
    size: data.length,
    name: "photo.jpg",
    contentType: "image/jpeg",
    chunkBytes,
    createdAt: 1_767_225_600_000,
    chunks,
    ...extra,
  };
}

describe("chunks", () => {
  test("round trip of 0 bytes, 1 byte and 1 MiB; ids are sha256 of what is stored", () => {
    for (const size of [0, 1, 1024 * 1024]) {
      const plain = patternBytes(size, size + 1);
      const sealed = cipher.seal(plain);
      assert.equal(sealed.ciphertext.length, size + CHUNK_OVERHEAD);
      assert.equal(sealed.plainHash, sha256Hex(plain));
      assert.equal(sealed.chunkId, sha256Hex(sealed.ciphertext));
      assert.ok(cipher.open(sealed.ciphertext, sealed.plainHash).equals(plain));
    }
  });

  test("seal does not keep the caller's buffer (it may be reused at once)", () => {
    const buf = Buffer.from("first contents");
    const sealed = cipher.seal(buf);
    buf.fill(0);
    assert.equal(cipher.open(sealed.ciphertext, sealed.plainHash).toString(), "first contents");
  });

  test("deterministic: equal plaintexts give equal bytes and ids, also from another instance", () => {
    const plain = patternBytes(70_000, 9);
    const a = cipher.seal(plain);
    const b = new ChunkCipher(Buffer.from(KEY)).seal(Buffer.from(plain));
    assert.ok(a.ciphertext.equals(b.ciphertext));
    assert.equal(a.chunkId, b.chunkId);
  });

  test("the ciphertext does not contain the plaintext", () => {
    const plain = Buffer.alloc(4096, 0x61);
    const sealed = cipher.seal(plain);
    assert.equal(sealed.ciphertext.includes(plain.subarray(0, 32)), false);
  });

  test("another cluster key gives other ciphertext and ids, and cannot open ours", () => {
    const other = new ChunkCipher(Buffer.alloc(32, 0x43));
    const plain = Buffer.from("the same plaintext");
    const ours = cipher.seal(plain);
    const theirs = other.seal(plain);
    assert.equal(ours.plainHash, theirs.plainHash);
    assert.notEqual(ours.chunkId, theirs.chunkId);
    assert.equal(ours.ciphertext.equals(theirs.ciphertext), false);
    throwsCode(() => other.open(ours.ciphertext, ours.plainHash), "DFS_ERR_CORRUPT");
  });

  test("a flipped byte anywhere (format byte, body, tag) is DFS_ERR_CORRUPT", () => {
    const plain = patternBytes(1000, 3);
    const { ciphertext, plainHash } = cipher.seal(plain);
    const positions = {
      format: [0],
      body: [1, 500, ciphertext.length - 17],
      tag: [ciphertext.length - 16, ciphertext.length - 1],
    };
    for (const list of Object.values(positions)) {
      for (const at of list) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = Buffer.from(ciphertext);
          bad[at]! ^= mask;
          throwsCode(() => cipher.open(bad, plainHash), "DFS_ERR_CORRUPT");
        }
      }
    }
    // The untouched bytes still open: the failures above are the flips.
    assert.ok(cipher.open(ciphertext, plainHash).equals(plain));
  });

  test("any single bit flip is detected (property)", () => {
    const { ciphertext, plainHash } = cipher.seal(patternBytes(300, 4));
    fc.assert(
      fc.property(fc.nat({ max: ciphertext.length - 1 }), fc.nat({ max: 7 }), (at, bit) => {
        const bad = Buffer.from(ciphertext);
        bad[at]! ^= 1 << bit;
        throwsCode(() => cipher.open(bad, plainHash), "DFS_ERR_CORRUPT");
      }),
      { numRuns: 200 },
    );
  });

  test("truncated, extended or empty ciphertext is DFS_ERR_CORRUPT", () => {
    const { ciphertext, plainHash } = cipher.seal(Buffer.from("some bytes"));
    for (const bad of [
      ciphertext.subarray(0, ciphertext.length - 1),
      ciphertext.subarray(0, 5),
      Buffer.alloc(0),
      Buffer.concat([ciphertext, Buffer.of(0)]),
    ]) {
      throwsCode(() => cipher.open(bad, plainHash), "DFS_ERR_CORRUPT");
    }
  });

  test("the wrong plainHash is DFS_ERR_CORRUPT; a malformed one DFS_ERR_INVALID_HASH", () => {
    const a = cipher.seal(Buffer.from("chunk a"));
    const b = cipher.seal(Buffer.from("chunk b"));
    throwsCode(() => cipher.open(a.ciphertext, b.plainHash), "DFS_ERR_CORRUPT");
    for (const bad of ["", "abc", a.plainHash.toUpperCase(), `${a.plainHash.slice(0, 63)}g`]) {
      throwsCode(() => cipher.open(a.ciphertext, bad), "DFS_ERR_INVALID_HASH");
    }
  });

  test("open trusts the key holders: bytes sealed under a hash's key open, whatever they are", () => {
    // Only a holder of the cluster key (a gateway) can make one. open() proves who sealed a chunk,
    // not that its bytes hash to the manifest's plainHash; a whole-file download checks the file's
    // SHA-256 (test/gateway-failures.test.ts). Without the key, nothing opens (tests above).
    const claimed = sha256Hex(Buffer.from("what the manifest says"));
    const forged = sealChunkUnder(KEY, claimed, Buffer.from("something else"));
    assert.equal(cipher.open(forged, claimed).toString(), "something else");
    throwsCode(() => cipher.open(forged, sha256Hex(Buffer.from("something else"))), "DFS_ERR_CORRUPT");
  });

  test("random plaintexts round trip (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200_000 }), (bytes) => {
        const plain = Buffer.from(bytes);
        const sealed = cipher.seal(plain);
        assert.ok(cipher.open(sealed.ciphertext, sealed.plainHash).equals(plain));
      }),
      { numRuns: 50 },
    );
  });

  test("a cluster key that is not 32 bytes is DFS_ERR_CONFIG", () => {
    for (const key of [Buffer.alloc(0), Buffer.alloc(16), Buffer.alloc(31), Buffer.alloc(33)]) {
      throwsCode(() => new ChunkCipher(key), "DFS_ERR_CONFIG");
    }
    throwsCode(() => new ChunkCipher("x".repeat(32) as unknown as Buffer), "DFS_ERR_CONFIG");
  });
});

describe("manifests", () => {
  const data = patternBytes(2500, 5);
  const manifest = manifestOf(data, 1000);

  test("round trip; deterministic; bound to the file hash", () => {
    const sealed = cipher.sealManifest(manifest);
    assert.deepEqual(cipher.openManifest(manifest.hash, sealed), manifest);
    assert.ok(cipher.sealManifest(structuredClone(manifest)).equals(sealed));
    throwsCode(() => cipher.openManifest(sha256Hex(Buffer.from("another file")), sealed), "DFS_ERR_CORRUPT");
    throwsCode(
      () => new ChunkCipher(Buffer.alloc(32, 1)).openManifest(manifest.hash, sealed),
      "DFS_ERR_CORRUPT",
    );
  });

  test("an empty file's manifest round trips", () => {
    const empty = manifestOf(Buffer.alloc(0), 1024);
    assert.deepEqual(cipher.openManifest(empty.hash, cipher.sealManifest(empty)), empty);
  });

  test("a small file's bytes inside its manifest round trip; malformed inline bytes are refused", () => {
    const data = Buffer.from("a small file, stored inside its manifest");
    const inline: Manifest = { ...manifestOf(data, 1024), chunks: [], inline: data.toString("base64") };
    const opened = cipher.openManifest(inline.hash, cipher.sealManifest(inline));
    assert.deepEqual(opened, inline);
    assert.ok(Buffer.from(opened.inline!, "base64").equals(data));
    // Without `inline` the bytes of a manifest stay what they were (stored manifests still open).
    assert.equal(
      Object.hasOwn(cipher.openManifest(manifest.hash, cipher.sealManifest(manifest)), "inline"),
      false,
    );
    assert.equal(data.length % 3, 1, "two padding characters, four unused bits before them");
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const nonCanonical = (b64: string) => `${b64.slice(0, -3)}${B64[B64.indexOf(b64.at(-3)!) | 1]}==`;
    const bad: unknown[] = [
      { ...inline, inline: data.subarray(1).toString("base64") }, // not size bytes
      { ...inline, inline: nonCanonical(data.toString("base64")) }, // the same bytes, other base64
      { ...inline, inline: 7 },
      { ...inline, chunks: manifestOf(data, 1024).chunks }, // inline and chunks
      { ...inline, size: 0, inline: "" },
      {
        ...manifestOf(Buffer.alloc(65537), 1 << 20),
        chunks: [],
        inline: Buffer.alloc(65537).toString("base64"),
      },
    ];
    for (const m of bad) throwsCode(() => cipher.sealManifest(m as Manifest), "DFS_ERR_INTERNAL");
  });

  test("key order of the caller's object does not change the bytes", () => {
    const reordered = Object.fromEntries(Object.entries(manifest).reverse()) as unknown as Manifest;
    assert.ok(cipher.sealManifest(reordered).equals(cipher.sealManifest(manifest)));
  });

  test("two manifests of one file (another name) get different nonces", () => {
    const a = cipher.sealManifest(manifest);
    const b = cipher.sealManifest({ ...manifest, name: "other.jpg" });
    const h = 14 + 32 * new Set(manifest.chunks.map((c) => c.id)).size; // nonce after the clear header
    assert.equal(a.subarray(h, h + 12).equals(b.subarray(h, h + 12)), false);
    assert.equal(cipher.openManifest(manifest.hash, b).name, "other.jpg");
  });

  test("every flipped byte is DFS_ERR_CORRUPT", () => {
    const sealed = cipher.sealManifest(manifest);
    for (let at = 0; at < sealed.length; at++) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      throwsCode(() => cipher.openManifest(manifest.hash, bad), "DFS_ERR_CORRUPT");
    }
    throwsCode(() => cipher.openManifest(manifest.hash, sealed.subarray(0, 20)), "DFS_ERR_CORRUPT");
    throwsCode(() => cipher.openManifest(manifest.hash, Buffer.alloc(0)), "DFS_ERR_CORRUPT");
  });

  test("a chunk sealed as a manifest (or the reverse) does not open", () => {
    const asChunk = cipher.seal(Buffer.from(JSON.stringify(manifest)));
    throwsCode(() => cipher.openManifest(manifest.hash, asChunk.ciphertext), "DFS_ERR_CORRUPT");
    const sealed = cipher.sealManifest(manifest);
    throwsCode(() => cipher.open(sealed, manifest.hash), "DFS_ERR_CORRUPT");
  });

  test("manifest ids: 64 hex, keyed, not the file hash, malformed hash refused", () => {
    const id = cipher.manifestId(manifest.hash);
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.notEqual(id, manifest.hash);
    assert.equal(cipher.manifestId(manifest.hash), id);
    assert.notEqual(new ChunkCipher(Buffer.alloc(32, 1)).manifestId(manifest.hash), id);
    assert.notEqual(cipher.manifestId(sha256Hex(Buffer.from("x"))), id);
    throwsCode(() => cipher.manifestId("nope"), "DFS_ERR_INVALID_HASH");
    throwsCode(() => cipher.openManifest("nope", cipher.sealManifest(manifest)), "DFS_ERR_INVALID_HASH");
  });

  test("invalid shapes are refused on seal (DFS_ERR_INTERNAL)", () => {
    const bad: unknown[] = [
      { ...manifest, version: 2 },
      { ...manifest, hash: manifest.hash.toUpperCase() },
      { ...manifest, size: manifest.size + 1 },
      { ...manifest, size: -1 },
      { ...manifest, name: 7 },
      { ...manifest, name: "n".repeat(1025) },
      { ...manifest, chunkBytes: 0 },
      { ...manifest, createdAt: new Date(0).toISOString() },
      { ...manifest, createdAt: 1.5 },
      { ...manifest, extra: true },
      { ...manifest, chunks: {} },
      { ...manifest, chunks: [...manifest.chunks, { id: manifest.hash, plainHash: manifest.hash, size: 0 }] },
      { ...manifest, chunks: manifest.chunks.map((c, i) => (i === 0 ? { ...c, size: 1001 } : c)) },
      { ...manifest, chunks: manifest.chunks.map((c, i) => (i === 0 ? { ...c, id: "x" } : c)) },
      { ...manifest, chunks: manifest.chunks.map((c, i) => (i === 0 ? { ...c, more: 1 } : c)) },
    ];
    for (const m of bad) throwsCode(() => cipher.sealManifest(m as Manifest), "DFS_ERR_INTERNAL");
  });

  test("a sealed manifest whose JSON has the wrong shape does not open (DFS_ERR_CORRUPT)", () => {
    // Malformed JSON sealed with the real keys through the documented format, as a buggy or hostile
    // key holder could (fixtures/crypto-format.ts rebuilds the format from node:crypto).
    for (const body of [
      "not json",
      "[]",
      JSON.stringify({ ...manifest, extra: 1 }),
      JSON.stringify({ ...manifest, hash: sha256Hex(Buffer.from("other")) }),
    ]) {
      const sealed = sealManifestBody(KEY, manifest.hash, Buffer.from(body), randomBytes(12));
      throwsCode(() => cipher.openManifest(manifest.hash, sealed), "DFS_ERR_CORRUPT");
    }
    // And the same route with a good body opens: the helper really is the format.
    const good = sealManifestBody(KEY, manifest.hash, Buffer.from(JSON.stringify(manifest)), randomBytes(12));
    assert.deepEqual(cipher.openManifest(manifest.hash, good), manifest);
  });
});
