import { statfsSync } from "node:fs";

/**
 * How old a statfs may be before a write checks the disk again. Asking the disk on every write
 * would cost a thread-pool round trip per chunk (~25 µs of CPU here); between two looks, what this store
 * wrote since the last look is subtracted, so the estimate only errs on the safe side.
 */
const REFRESH_MS = 500;

/** The free space of the data dir's file system, looked up at most every REFRESH_MS. */
export class DiskSpace {
  readonly #dir: string;
  #at = Number.NEGATIVE_INFINITY;
  #available = 0;
  #total = 0;
  #writtenSince = 0;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Bytes available to this user, as of now: a recent statfs minus what was stored since. */
  available(): number {
    if (performance.now() - this.#at > REFRESH_MS) this.refresh();
    return this.#available - this.#writtenSince;
  }

  /** A fresh statfs (synchronous: it reads counters the kernel keeps in memory, no disk I/O). */
  refresh(): { available: number; total: number } {
    const s = statfsSync(this.#dir);
    this.#available = s.bavail * s.bsize;
    this.#total = s.blocks * s.bsize;
    this.#writtenSince = 0;
    this.#at = performance.now();
    return { available: this.#available, total: this.#total };
  }

  /** `bytes` more are on the disk since the last look. */
  wrote(bytes: number): void {
    this.#writtenSince += bytes;
  }
}
