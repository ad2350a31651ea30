import { createCipheriv, createDecipheriv, createHash, type KeyObject } from "node:crypto";
import { DfsError } from "../errors.ts";
import { CHUNK_FORMAT, CHUNK_OVERHEAD, NONCE_BYTES, TAG_BYTES } from "./format.ts";
import { gcmInto } from "./gcm.ts";

/** Fixed: every chunk key encrypts exactly one plaintext (the nonce argument is in keys.ts). */
const CHUNK_NONCE = Buffer.alloc(NONCE_BYTES);
const HEADER = Buffer.of(CHUNK_FORMAT);

/**
 * Encrypts one chunk into a single buffer laid out as format.ts describes, hashing the ciphertext
 * on the way: the chunk id costs no second pass over memory. `into`, when given and large enough,
 * is written instead of a new buffer (the result is then a view of its start): a gateway reuses
 * a few such buffers rather than touching new memory for every chunk.
 */
export function sealChunk(
  key: KeyObject,
  plaintext: Uint8Array,
  into?: Buffer,
): { ciphertext: Buffer; chunkId: string } {
  const size = plaintext.length + CHUNK_OVERHEAD;
  const out = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
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
 * Decrypts and authenticates one chunk under `key`, the key of the plaintext hash the manifest
 * lists, as pieces of at most `pieceBytes`. Nothing is returned unless the GCM tag checks. The
 * plaintext is not hashed again: a tag that checks under a key derived from that hash and the
 * cluster key proves the bytes are what a key holder sealed for it (keys.ts), and a whole-file read
 * checks the file's SHA-256 anyway. Each piece is a cipher.update() output, handed on as is: small
 * pieces come from memory malloc recycles, a whole chunk would be fresh pages every time.
 */
export function openChunk(key: KeyObject, ciphertext: Uint8Array, pieceBytes = Infinity): Buffer[] {
  if (ciphertext.length < CHUNK_OVERHEAD) throw corrupt("too short to be a sealed chunk");
  if (ciphertext[0] !== CHUNK_FORMAT) throw corrupt(`unknown chunk format ${ciphertext[0]}`);
  const end = ciphertext.length - TAG_BYTES;
  const decipher = createDecipheriv("aes-256-gcm", key, CHUNK_NONCE, { authTagLength: TAG_BYTES });
  decipher.setAAD(HEADER);
  decipher.setAuthTag(ciphertext.subarray(end));
  const pieces: Buffer[] = [];
  for (let at = 1; at < end; at += pieceBytes) {
    pieces.push(decipher.update(ciphertext.subarray(at, Math.min(end, at + pieceBytes))));
  }
  try {
    decipher.final();
  } catch (err) {
    throw corrupt("chunk failed authentication (tampered, or sealed under another key)", err);
  }
  return pieces;
}

function corrupt(message: string, cause?: unknown): DfsError {
  return new DfsError("DFS_ERR_CORRUPT", message, cause === undefined ? undefined : { cause });
}
