import { type Clock, systemClock } from "./clock.ts";

/**
 * A token bucket over bytes: repair, scrub and pack compaction take from it before they move or
 * hash bytes, so together they never exceed `bytesPerSec` on average and foreground traffic keeps
 * the rest. The bucket holds at most one second of tokens; a request larger than that drives it
 * below zero, so the requests after it wait for its whole size. A wait ends at once when its
 * signal is aborted.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(bytesPerSec: number, clock: Clock = systemClock) {
    this.#rate = Math.max(1, bytesPerSec);
    this.#clock = clock;
    this.#tokens = this.#rate;
    this.#at = clock.now();
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
      const now = this.#clock.now();
      this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
      this.#at = now;
      // A request above the bucket's size may drive it negative: it waits until it would have fit.
      if (this.#tokens >= Math.min(bytes, this.#rate)) {
        this.#tokens -= bytes;
        return;
      }
      const ms = ((Math.min(bytes, this.#rate) - this.#tokens) / this.#rate) * 1000;
      await this.#clock.sleep(Math.max(1, Math.ceil(ms)), signal);
    }
  }
}
