import { type BatchedFrame, batchedBytes, MAX_BATCH_CONTENT } from "../protocol/index.ts";

/**
 * The small frames of one event-loop turn on a sealed link, in the order they were sent, waiting to
 * be sealed together as one BATCH (src/protocol/batch.ts), with the callbacks that say their bytes
 * may be reused.
 */
export class PendingBatch {
  #frames: BatchedFrame[] = [];
  #bytes = 0;
  #written: (() => void)[] = [];

  get size(): number {
    return this.#frames.length;
  }

  /** Whether a frame with `body` still fits in the BATCH. */
  fits(body: Buffer): boolean {
    return this.#bytes + batchedBytes(body) <= MAX_BATCH_CONTENT;
  }

  add(frame: BatchedFrame, written?: () => void): void {
    this.#frames.push(frame);
    this.#bytes += batchedBytes(frame.body);
    if (written) this.#written.push(written);
  }

  /** Empties the batch; `bytes` is what its frames take inside the BATCH (sealBatch's `bytes`). */
  take(): { frames: BatchedFrame[]; bytes: number; written: (() => void)[] } {
    const taken = { frames: this.#frames, bytes: this.#bytes, written: this.#written };
    this.#frames = [];
    this.#bytes = 0;
    this.#written = [];
    return taken;
  }
}
