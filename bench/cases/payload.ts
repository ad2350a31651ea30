import { createHash, randomFillSync } from "node:crypto";

const PIECE = 1024 * 1024;
/** Pieces a sender may still hold (socket queue, stream buffer) when the next is stamped; see pieces(). */
const RING = 8;

/**
 * Distinct files of any size without allocating their bytes: a file is 1 MiB pieces of the same
 * random bytes, each with (salt, run, index) stamped over its first 12, so every 1 MiB chunk of
 * every file differs (no de-duplication anywhere) and the client spends no memory or CPU on making
 * data. The hash is computed before a run starts, outside the measured time.
 */
export class FilePayload {
  readonly #base = randomFillSync(Buffer.allocUnsafe(PIECE));
  readonly #ring = Array.from({ length: RING }, () => Buffer.from(this.#base));

  /** sha256 hex of file (salt, run) of `bytes`. */
  hash(salt: number, run: number, bytes: number): string {
    return this.digests(salt, run, bytes, ["sha256"])[0]!;
  }

  /** Hex digests of file (salt, run) of `bytes` by each algorithm (one pass over the bytes). */
  digests(salt: number, run: number, bytes: number, algorithms: readonly string[]): string[] {
    const hs = algorithms.map((a) => createHash(a));
    const scratch = Buffer.from(this.#base);
    for (let i = 0, at = 0; at < bytes; i++, at += PIECE) {
      const piece = stamp(scratch, salt, run, i).subarray(0, Math.min(PIECE, bytes - at));
      for (const h of hs) h.update(piece);
    }
    return hs.map((h) => h.digest("hex"));
  }

  /**
   * The file's pieces, from a ring of RING reused buffers. A piece is overwritten RING pieces
   * later; the HTTP client waits for its socket to drain long before (undici stops reading the body
   * when a write returns false), and the server's hash would catch it if not.
   */
  *pieces(salt: number, run: number, bytes: number): Generator<Buffer> {
    for (let i = 0, at = 0; at < bytes; i++, at += PIECE) {
      const buf = stamp(this.#ring[i % RING]!, salt, run, i);
      yield bytes - at >= PIECE ? buf : buf.subarray(0, bytes - at);
    }
  }
}

function stamp(buf: Buffer, salt: number, run: number, index: number): Buffer {
  buf.writeUInt32BE(salt, 0);
  buf.writeUInt32BE(run, 4);
  buf.writeUInt32BE(index, 8);
  return buf;
}

/** `count` distinct small files (salt, run, index stamped in), with their sha256, made before a run. */
export function smallFiles(
  base: Buffer,
  salt: number,
  run: number,
  count: number,
): { bodies: Buffer[]; hashes: string[] } {
  const bodies = Array.from({ length: count }, (_, i) => stamp(Buffer.from(base), salt, run, i));
  return { bodies, hashes: bodies.map((b) => createHash("sha256").update(b).digest("hex")) };
}
