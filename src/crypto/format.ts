import { createHash } from "node:crypto";
import { HEADER_FIXED_BYTES } from "../formats/index.ts";

/**
 * Byte formats of what the gateway stores on nodes. Changing anything here changes stored bytes:
 * bump the format byte on purpose and update test/fixtures/crypto-vectors.json with it.
 *
 * Sealed chunk (AES-256-GCM, key per plaintext, fixed nonce; see keys.ts for why that is safe):
 *
 *   offset  size  field
 *   0       1     format = CHUNK_FORMAT (0x01), also the GCM additional data
 *   1       n     ciphertext (n = plaintext bytes)
 *   1+n     16    GCM tag
 *
 * Sealed manifest, format 2 (AES-256-GCM, key per file hash, synthetic nonce). The clear header
 * (bytes 0..H, its layout and key-free parser in src/formats/manifest-header.ts) lets nodes, which
 * hold no key, see what a manifest references (repair, garbage collection) and whether it is a
 * tombstone; it is authenticated with the rest:
 *
 *   offset  size  field
 *   0       1     format = 0x02 (MANIFEST_FORMAT, src/formats)
 *   1       1     type: 1 = manifest, 2 = tombstone (a delete)
 *   2       8     stamp, u64 big-endian ms since the epoch (a manifest's createdAt, a delete's time);
 *                 between two objects under one id the higher stamp wins, a tombstone on a tie
 *   10      4     n, u32 big-endian: distinct chunk ids referenced (0 for a tombstone)
 *   14      32n   chunk ids, raw, in order of first use in the file
 *   H=14+32n 12   nonce = HMAC-SHA256(manifest nonce key, bytes 0..H || json)[0..12)
 *   H+12    m     ciphertext of the body: the manifest as UTF-8 JSON, or {"deleted":"<file hash>"}
 *   H+12+m  16    GCM tag
 *   additional data: bytes 0..H+12 then the file hash (32 raw bytes)
 *
 * Gateways store a sealed manifest with their signature trailer after these bytes
 * (src/credentials/object-signature.ts); what is sealed and opened here is what precedes it.
 */
export const CHUNK_FORMAT = 0x01;

export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;
export const KEY_BYTES = 32;

/** Bytes the cipher adds to each chunk: format byte + GCM tag. */
export const CHUNK_OVERHEAD = 1 + TAG_BYTES;
/** Bytes the cipher adds to a manifest's JSON besides the chunk ids: fixed header + nonce + tag. */
export const MANIFEST_OVERHEAD = HEADER_FIXED_BYTES + NONCE_BYTES + TAG_BYTES;

/**
 * Largest manifest JSON accepted, sealed or opened. A chunk entry is ~160 bytes, so this is ~400k
 * chunks (~400 GiB in 1 MiB chunks); it also matches the nodes' default maxObjectBytes.
 */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;

/**
 * GCM works through its input in pieces of this size, each cipher.update() output copied once into
 * the final buffer and hashed while it is still in cache (L2 is 1 MiB a core here). Measured in
 * bench/crypto.ts against 16 and 64 KiB pieces and one whole-chunk update: all within ~10% of each
 * other once the heap is warm (two sha256 passes bound sealing), 256 KiB ahead most often.
 */
export const PIECE_BYTES = 256 * 1024;

/** Domain-separation labels: one per derived secret, never reused for another purpose. */
export const LABELS = {
  /** HKDF salt for everything derived from the cluster key. */
  salt: "dfs-mesh/v1",
  chunkKey: "dfs-mesh/v1/chunk-key",
  manifestKey: "dfs-mesh/v1/manifest-key",
  manifestNonce: "dfs-mesh/v1/manifest-nonce",
  manifestId: "dfs-mesh/v1/manifest-id",
  /** Seals access keys' secrets in the tables (src/access/seal.ts). */
  accessKeySecret: "dfs-mesh/v1/access-key-secret",
} as const;

/** sha256 hex of a buffer. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
