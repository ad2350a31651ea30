/**
 * Cuts a stream of pieces of any size into fixed-size chunks (the last one shorter) through ONE
 * reused buffer: new memory is what costs most on this hardware (bench/free-now.ts, bench/malloc-keep.ts).
 *
 * The chunk handed to `onChunk` is a view of that buffer and is only valid until `onChunk`'s promise
 * settles: the consumer must copy (seal) it before resolving. Awaiting `onChunk` is also what gives
 * backpressure: no further piece is copied while the consumer is busy.
 */
export class Chunker {
  readonly #buffer: Buffer;
  readonly #onChunk: (chunk: Buffer) => Promise<void>;
  #fill = 0;

  /** Chunks are `buffer.length` bytes; the caller lends the buffer (new memory per upload would cost more than a small upload). */
  constructor(buffer: Buffer, onChunk: (chunk: Buffer) => Promise<void>) {
    if (buffer.length < 1) throw new RangeError("a chunk must be at least 1 byte");
    this.#buffer = buffer;
    this.#onChunk = onChunk;
  }

  async push(piece: Uint8Array): Promise<void> {
    const size = this.#buffer.length;
    let offset = 0;
    while (offset < piece.length) {
      const n = Math.min(size - this.#fill, piece.length - offset);
      this.#buffer.set(piece.subarray(offset, offset + n), this.#fill);
      this.#fill += n;
      offset += n;
      if (this.#fill === size) {
        this.#fill = 0;
        await this.#onChunk(this.#buffer);
      }
    }
  }

  /** Emits the last, partial chunk, if any. An empty input gives no chunk at all. */
  async end(): Promise<void> {
    if (this.#fill === 0) return;
    const n = this.#fill;
    this.#fill = 0;
    await this.#onChunk(this.#buffer.subarray(0, n));
  }
}
