import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { join } from "node:path";

/**
 * Cuts a byte stream into pieces of `pieceBytes`, each written to its own file and fsynced before
 * the file is closed: what a storage node does per chunk, minus framing, hashing and renames.
 * Writes are positional so a few can be in flight at once without reordering.
 */
export class PieceFiles {
  readonly #dir: string;
  readonly #prefix: string;
  readonly #pieceBytes: number;
  #index = 0;
  #fh: FileHandle | undefined;
  #pos = 0;
  #pending: Promise<unknown>[] = [];
  #pendingBytes = 0;
  bytes = 0;

  constructor(dir: string, prefix: string, pieceBytes: number) {
    this.#dir = dir;
    this.#prefix = prefix;
    this.#pieceBytes = pieceBytes;
  }

  async write(data: Buffer): Promise<void> {
    for (let off = 0; off < data.length; ) {
      this.#fh ??= await open(join(this.#dir, `${this.#prefix}-${this.#index}`), "w");
      const part = data.subarray(off, off + this.#pieceBytes - this.#pos);
      this.#pending.push(this.#fh.write(part, 0, part.length, this.#pos));
      this.#pos += part.length;
      this.#pendingBytes += part.length;
      this.bytes += part.length;
      off += part.length;
      if (this.#pos === this.#pieceBytes) await this.#closePiece();
      // Bound what is queued to the thread pool, as a Writable's highWaterMark would.
      else if (this.#pendingBytes >= this.#pieceBytes) await this.#flush();
    }
  }

  /** Syncs and closes the last, partial piece. */
  async finish(): Promise<void> {
    if (this.#fh) await this.#closePiece();
  }

  async #flush(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    await Promise.all(pending);
  }

  async #closePiece(): Promise<void> {
    const fh = this.#fh!;
    this.#fh = undefined;
    this.#pos = 0;
    this.#index++;
    try {
      await this.#flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
