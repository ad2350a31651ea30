/**
 * At most `limit` tasks at once. `slot()` waits for room, which is how an upload stops reading its
 * request while its chunks are in flight. The first failure aborts the shared signal (the other
 * tasks stop early) and is what every later `slot()` and `drain()` throws.
 */
export class TaskWindow {
  readonly #limit: number;
  readonly #abort: AbortController;
  readonly #running = new Set<Promise<void>>();
  #failed = false;
  #error: unknown;

  constructor(limit: number, abort: AbortController) {
    this.#limit = limit;
    this.#abort = abort;
  }

  async slot(): Promise<void> {
    while (this.#running.size >= this.#limit && !this.#failed) await Promise.race(this.#running);
    if (this.#failed) throw this.#error;
  }

  /** Starts tracking a task; call after `slot()`. */
  add(task: Promise<unknown>): void {
    const tracked: Promise<void> = task.then(
      () => {},
      (err: unknown) => {
        if (!this.#failed) {
          this.#failed = true;
          this.#error = err;
          this.#abort.abort(err);
        }
      },
    );
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  /** Waits for every task; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    if (this.#failed) throw this.#error;
  }

  /** Waits for every task to end, whatever the outcome (after an abort, before answering). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }
}
