import { createHash, randomFillSync } from "node:crypto";

/**
 * Distinct 1 MiB chunks without allocating one per request: every chunk is the same random bytes
 * with (salt, run, index) stamped over the first 12. Each worker owns one buffer and restamps it
 * for its next chunk only after the previous PUT was acknowledged (so every byte was sent).
 * Ids are hashed before a run starts, so the measured time holds no client-side hashing.
 */
export class Chunks {
  readonly pieceBytes: number;
  readonly #base: Buffer;
  readonly #buffers: Buffer[];

  constructor(pieceBytes: number, workers: number) {
    this.pieceBytes = pieceBytes;
    this.#base = randomFillSync(Buffer.allocUnsafe(pieceBytes));
    this.#buffers = Array.from({ length: workers }, () => Buffer.from(this.#base));
  }

  /** The ids of chunks 0..count-1 for (salt, run). */
  ids(salt: number, run: number, count: number): string[] {
    const scratch = Buffer.from(this.#base);
    return Array.from({ length: count }, (_, i) =>
      createHash("sha256")
        .update(stamp(scratch, salt, run, i))
        .digest("hex"),
    );
  }

  /** Worker `w`'s buffer, now holding chunk (salt, run, index). */
  chunk(w: number, salt: number, run: number, index: number): Buffer {
    return stamp(this.#buffers[w]!, salt, run, index);
  }
}

function stamp(buf: Buffer, salt: number, run: number, index: number): Buffer {
  buf.writeUInt32BE(salt, 0);
  buf.writeUInt32BE(run, 4);
  buf.writeUInt32BE(index, 8);
  return buf;
}
