import { createCipheriv, createDecipheriv, createHash, type KeyObject } from "node:crypto";
import { DfsError } from "../errors.ts";
import { CHUNK_FORMAT, CHUNK_OVERHEAD, NONCE_BYTES, TAG_BYTES } from "./format.ts";
import { gcmInto } from "./gcm.ts";

/** Fixed: every chunk key encrypts exactly one plaintext (the nonce argument is in keys.ts). */
const CHUNK_NONCE = Buffer.alloc(NONCE_BYTES);
const HEADER = Buffer.of(CHUNK_FORMAT);

/**
 * Encrypts one chunk into a single buffer laid out as format.ts describes, hashing the ciphertext
 * on the way: the chunk id costs no second pass over memory.
 */
export function sealChunk(key: KeyObject, plaintext: Uint8Array): { ciphertext: Buffer; chunkId: string } {
  const out = Buffer.allocUnsafe(plaintext.length + CHUNK_OVERHEAD);
  out[0] = CHUNK_FORMAT;
  const id = createHash("sha256").update(HEADER);
  const cipher = createCipheriv("aes-256-gcm", key, CHUNK_NONCE, { authTagLength: TAG_BYTES });
  cipher.setAAD(HEADER);
  let at = gcmInto(cipher, plaintext, out, 1, id);
  cipher.final(); // GCM emits nothing here; it computes the tag
  const tag = cipher.getAuthTag();
  out.set(tag, at);
  at += tag.length;
  id.update(tag);
  return { ciphertext: out, chunkId: id.digest("hex") };
}

/**
 * Decrypts and authenticates one chunk, then checks the plaintext's SHA-256 against `plainHash`
 * (32 raw bytes). Nothing is returned unless every check passed.
 */
export function openChunk(key: KeyObject, ciphertext: Uint8Array, plainHash: Buffer): Buffer {
  if (ciphertext.length < CHUNK_OVERHEAD) throw corrupt("too short to be a sealed chunk");
  if (ciphertext[0] !== CHUNK_FORMAT) throw corrupt(`unknown chunk format ${ciphertext[0]}`);
  const end = ciphertext.length - TAG_BYTES;
  const out = Buffer.allocUnsafe(end - 1);
  const hash = createHash("sha256");
  const decipher = createDecipheriv("aes-256-gcm", key, CHUNK_NONCE, { authTagLength: TAG_BYTES });
  decipher.setAAD(HEADER);
  decipher.setAuthTag(ciphertext.subarray(end));
  gcmInto(decipher, ciphertext.subarray(1, end), out, 0, hash);
  try {
    decipher.final();
  } catch (err) {
    throw corrupt("chunk failed authentication (tampered, or sealed under another key)", err);
  }
  if (!hash.digest().equals(plainHash)) throw corrupt("chunk plaintext does not match its hash");
  return out;
}

function corrupt(message: string, cause?: unknown): DfsError {
  return new DfsError("DFS_ERR_CORRUPT", message, cause === undefined ? undefined : { cause });
}
