import type { Cipheriv, Decipheriv, Hash } from "node:crypto";
import { freeNow } from "../memory.ts";
import { PIECE_BYTES } from "./format.ts";

/**
 * Runs `input` through a GCM cipher or decipher in PIECE_BYTES pieces, writing the output into
 * `out` at `offset` and, if given, feeding it to `hash` while the piece is still in cache. Each
 * piece's output is copied once, into `out`, which the caller allocated at its final size, and
 * freed at once (freeNow): Node has no update-into, but malloc then hands the same block back for
 * the next piece. Returns the offset after it.
 */
export function gcmInto(
  cipher: Cipheriv | Decipheriv,
  input: Uint8Array,
  out: Buffer,
  offset: number,
  hash?: Hash,
): number {
  let at = offset;
  for (let i = 0; i < input.length; i += PIECE_BYTES) {
    const piece = cipher.update(input.subarray(i, i + PIECE_BYTES));
    out.set(piece, at);
    at += piece.length;
    hash?.update(piece);
    freeNow(piece);
  }
  return at;
}
