/**
 * Hybrid logical clock readings (Kulkarni et al., as CockroachDB and MongoDB use them): one u64,
 * the high 48 bits milliseconds since the epoch, the low 16 bits a counter that orders readings
 * within one millisecond and past a wall clock that stepped back. A reading is a bigint (u64 on the
 * wire); comparing two is comparing the numbers.
 */

export const HLC_LOGICAL_BITS = 16n;
const LOGICAL_MASK = (1n << HLC_LOGICAL_BITS) - 1n;
/** The largest reading: 2^64 - 1. */
export const HLC_MAX = (1n << 64n) - 1n;

/** The reading of `ms` (an integer, 0..2^48 - 1) with counter `logical` (0..65535). */
export function hlcOf(ms: number, logical = 0): bigint {
  return (BigInt(Math.floor(ms)) << HLC_LOGICAL_BITS) | (BigInt(logical) & LOGICAL_MASK);
}

/** The milliseconds of a reading. */
export function hlcMs(hlc: bigint): number {
  return Number(hlc >> HLC_LOGICAL_BITS);
}

/** The counter of a reading. */
export function hlcLogical(hlc: bigint): number {
  return Number(hlc & LOGICAL_MASK);
}

export interface HybridClockOptions {
  /** Wall time in ms since the epoch; injected so tests drive it. Default Date.now. */
  wallMs?: () => number;
  /**
   * Readings observed more than this far ahead of the wall clock are not taken in (default 5 min,
   * the allowed clock skew elsewhere in the cluster): one writer with a clock years ahead must not
   * drag every clock that reads its records along with it.
   */
  maxAheadMs?: number;
}

export const DEFAULT_MAX_AHEAD_MS = 5 * 60_000;

/**
 * A clock whose readings only go up: each `now()` is greater than every reading it gave and every
 * one it observed (within `maxAheadMs` of the wall clock), and equal to the wall clock's millisecond
 * (counter 0) whenever that is ahead. So a writer that read a version stamps its next write later
 * than it, even when its own wall clock lags the other writer's.
 */
export class HybridClock {
  readonly #wallMs: () => number;
  readonly #maxAheadMs: number;
  #last = 0n;

  constructor(options: HybridClockOptions = {}) {
    this.#wallMs = options.wallMs ?? Date.now;
    this.#maxAheadMs = options.maxAheadMs ?? DEFAULT_MAX_AHEAD_MS;
  }

  /** A new reading, greater than every earlier one (a counter overflow carries into the ms). */
  now(): bigint {
    const wall = hlcOf(this.#wallMs());
    this.#last = wall > this.#last ? wall : this.#last + 1n;
    return this.#last;
  }

  /**
   * Takes in a reading seen on a record, so later readings come after it. Returns false (and
   * changes nothing) for a reading more than maxAheadMs ahead of the wall clock.
   */
  observe(hlc: bigint): boolean {
    if (this.isTooFarAhead(hlc)) return false;
    if (hlc > this.#last) this.#last = hlc;
    return true;
  }

  /** Whether `hlc` is further ahead of the wall clock than this clock takes in. */
  isTooFarAhead(hlc: bigint): boolean {
    return hlcMs(hlc) > this.#wallMs() + this.#maxAheadMs;
  }

  /** The wall clock this clock reads (ms since the epoch). */
  wallMs(): number {
    return this.#wallMs();
  }
}
