/**
 * Same-size buffers handed out and taken back, for bytes the process sends (a GET reads its file
 * into one, and gets it back once the socket has written it). Reused memory is already touched,
 * and no external allocation per read feeds V8's GC heuristics.
 */
export class BufferPool {
  readonly size: number;
  readonly #free: Buffer[] = [];
  readonly #maxFree: number;

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Gives `buf` back; the caller must hold no view of it any more. */
  give(buf: Buffer): void {
    if (this.#free.length < this.#maxFree) this.#free.push(buf);
  }
}
