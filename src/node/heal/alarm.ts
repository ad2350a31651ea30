import type { Clock } from "../clock.ts";

/**
 * When the next repair round is due: at the end of its period, or sooner once something rang
 * (a membership change). A ring asks for a round `delayMs` from now, unless one is due sooner
 * already: changes in a burst (a node's join seen by several reads) give one round, `delayMs`
 * after the first, not one each and not one that keeps moving away.
 */
export class Alarm {
  readonly #clock: Clock;
  #due: number | undefined;
  #wake: (() => void) | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  ring(delayMs: number): void {
    const at = this.#clock.now() + delayMs;
    if (this.#due !== undefined && this.#due <= at) return;
    this.#due = at;
    this.#wake?.();
  }

  /** Forgets a ring: the round starting now covers what it was rung for. */
  clear(): void {
    this.#due = undefined;
  }

  /** Resolves after `ms`, or when a ring is due if sooner; rejects when `signal` is aborted. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    const until = this.#clock.now() + ms;
    for (;;) {
      signal.throwIfAborted();
      const left = Math.min(until, this.#due ?? until) - this.#clock.now();
      if (left <= 0) return;
      const rung = new AbortController();
      this.#wake = () => rung.abort();
      try {
        await this.#clock.sleep(left, AbortSignal.any([signal, rung.signal]));
      } catch (err) {
        if (signal.aborted) throw err;
      } finally {
        this.#wake = undefined;
      }
    }
  }
}
