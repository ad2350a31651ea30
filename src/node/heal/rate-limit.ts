/**
 * A token bucket over bytes: repair and scrub take from it before they move or hash bytes, so
 * they never exceed `bytesPerSec` on average and foreground traffic keeps the rest. The bucket
 * holds at most one second of tokens; a request larger than that waits for its whole size.
 */
export class TokenBucket {
  readonly #rate: number;
  #tokens: number;
  #at = performance.now();
  #queue: Promise<void> = Promise.resolve();

  constructor(bytesPerSec: number) {
    this.#rate = Math.max(1, bytesPerSec);
    this.#tokens = this.#rate;
  }

  /** Resolves once `bytes` may be spent. Callers are served in order. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.#queue.then(() => this.#wait(bytes, signal));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #wait(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = performance.now();
      this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
      this.#at = now;
      // A request above the bucket's size may drive it negative: it waits until it would have fit.
      if (this.#tokens >= Math.min(bytes, this.#rate)) {
        this.#tokens -= bytes;
        return;
      }
      const ms = ((Math.min(bytes, this.#rate) - this.#tokens) / this.#rate) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(ms))));
    }
  }
}
