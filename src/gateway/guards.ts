import type { FastifyReply } from "fastify";
import { DfsError } from "../errors.ts";
import type { GatewayMetrics } from "./metrics.ts";

/**
 * The progress a request body must make: this many bytes per bodyIdleTimeoutMs of the time the
 * gateway spent waiting for it. A trickle of a byte now and then is as stuck as silence. Time the
 * gateway itself does not read (its nodes are slow: backpressure) is not counted.
 */
export const BODY_PROGRESS_BYTES = 16 * 1024;

export type Clock = () => number;

export function bodyStalled(timeoutMs: number): DfsError {
  return new DfsError(
    "DFS_ERR_REQUEST_TIMEOUT",
    `the request body brought under ${BODY_PROGRESS_BYTES} bytes in ${timeoutMs} ms`,
  );
}

/**
 * The pieces of a request body, failing with DFS_ERR_REQUEST_TIMEOUT once the body has made less
 * than BODY_PROGRESS_BYTES of progress over `timeoutMs` of waiting. `onStall` runs first (a metric).
 */
export function guardBody(
  source: AsyncIterable<Buffer>,
  timeoutMs: number,
  onStall: () => void = () => {},
  now: Clock = Date.now,
): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Buffer> {
      const it = source[Symbol.asyncIterator]();
      let waited = 0;
      let brought = 0;
      let pendingNext: Promise<unknown> | undefined;
      return {
        async next(): Promise<IteratorResult<Buffer>> {
          const started = now();
          let timer: NodeJS.Timeout | undefined;
          const stalled = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => {
                onStall();
                reject(bodyStalled(timeoutMs));
              },
              Math.max(0, timeoutMs - waited),
            );
          });
          const pending = it.next();
          pending.catch(() => {}); // after a stall nobody awaits it; the socket's end settles it
          pendingNext = pending;
          try {
            const r = await Promise.race([pending, stalled]);
            pendingNext = undefined;
            if (!r.done) {
              waited += now() - started;
              brought += r.value.length;
              if (brought >= BODY_PROGRESS_BYTES) {
                waited = 0;
                brought = 0;
              }
            }
            return r;
          } finally {
            clearTimeout(timer);
          }
        },
        async return(): Promise<IteratorResult<Buffer>> {
          const ended = it.return?.();
          // After a stall the source's own next() still waits for bytes that may never come, and
          // a generator returns only after it: waiting here would hold the request's answer.
          if (pendingNext === undefined) await ended;
          else ended?.catch(() => {});
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** `p`, or DFS_ERR_REQUEST_TIMEOUT once timeoutMs pass (a multipart body stalled before its file). */
export async function bodyWithin<T>(p: Promise<T>, timeoutMs: number, onStall: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onStall();
      reject(bodyStalled(timeoutMs));
    }, timeoutMs);
  });
  p.catch(() => {});
  try {
    return await Promise.race([p, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A download's watchdog: armed while a piece waits for the client to take it (and while the end of
 * the response waits to be flushed), disarmed when it is taken. Firing means the client stopped
 * reading: `cut` destroys the response, which frees what it holds.
 */
export class WriteStall {
  readonly #timeoutMs: number;
  readonly #cut: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, cut: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#cut = cut;
  }

  arm(): void {
    this.disarm();
    this.#timer = setTimeout(this.#cut, this.#timeoutMs);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The uploads and downloads in flight, at most `max`: each holds a few chunks of memory, so their
 * number bounds the gateway's. Beyond it a request gets DFS_ERR_BUSY (503, Retry-After).
 */
export class TransferSlots {
  readonly #max: number;
  #inUse = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get inUse(): number {
    return this.#inUse;
  }

  /** Takes a slot, or throws BUSY; the returned function gives it back (once, however often called). */
  acquire(): () => void {
    if (this.#inUse >= this.#max) {
      throw new DfsError(
        "DFS_ERR_BUSY",
        `this gateway has ${this.#max} uploads and downloads in flight; retry shortly`,
      );
    }
    this.#inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inUse--;
    };
  }
}

/**
 * Bytes all downloads together may have fetched ahead of what their clients are reading. A
 * download's own chunk is covered by its transfer slot; chunks beyond it take from this budget,
 * or are fetched when reached. A few downloads read fully ahead; many stalled ones hold no more
 * than the budget between them.
 */
export class ReadAheadBudget {
  readonly #max: number;
  #taken = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  get taken(): number {
    return this.#taken;
  }

  take(bytes: number): boolean {
    if (this.#taken + bytes > this.#max) return false;
    this.#taken += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#taken -= bytes;
  }
}

/** Holds a transfer slot for the life of the response (given back when it closes, however). */
export function holdSlot(slots: TransferSlots, reply: FastifyReply, metrics: GatewayMetrics): void {
  let release: () => void;
  try {
    release = slots.acquire();
  } catch (err) {
    metrics.guarded.inc({ reason: "transfers" });
    throw err;
  }
  reply.raw.once("close", release);
}
