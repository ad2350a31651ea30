/**
 * Pooled memory for the bytes of incoming streams (PUT bodies on a node). A socket read lands in a
 * shared buffer (socket-reads.ts) that the next read overwrites, so each DATA piece is copied into
 * a slab, and the copy is lent to whoever needs it: the file write and the forward to the next
 * node each retain it and release it when their write has completed. A slab whose pieces are all
 * released goes back to the pool. A node streaming chunks therefore copies into the same few MiB
 * over and over: no fresh memory (slow to touch here), no external allocations (which drive V8's
 * full GCs).
 *
 * A piece that is never released is not a leak: its slab just never returns to the pool and is
 * collected like any Buffer. Releasing too often would be the bug (a slab reused under a write in
 * progress), so a piece counts its own references and ignores releases past zero.
 */

const SLAB_BYTES = 1024 * 1024;
/** Free slabs kept for reuse; past this, released slabs are left to the GC. */
const MAX_FREE_SLABS = 32;

class Slab {
  readonly buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Where the next piece goes. */
  used = 0;
  /** Pieces cut from this slab that are still referenced, plus one while it is the pool's current slab. */
  refs = 1;
}

/** Bytes lent by the pool. Keep `bytes` only between retain() and release(). */
export class LentPiece {
  readonly bytes: Buffer;
  readonly #slab: Slab;
  readonly #pool: SlabPool;
  #refs = 1;

  constructor(bytes: Buffer, slab: Slab, pool: SlabPool) {
    this.bytes = bytes;
    this.#slab = slab;
    this.#pool = pool;
  }

  get length(): number {
    return this.bytes.length;
  }

  retain(): this {
    if (this.#refs > 0) this.#refs++;
    return this;
  }

  release(): void {
    if (this.#refs <= 0) return;
    if (--this.#refs === 0) this.#pool.unref(this.#slab);
  }
}

export class SlabPool {
  #current: Slab | undefined;
  readonly #free: Slab[] = [];

  /** A copy of `src` (at most one slab) in pooled memory, with one reference held by the caller. */
  copy(src: Buffer): LentPiece {
    if (src.length > SLAB_BYTES) throw new RangeError(`piece of ${src.length} bytes exceeds a slab`);
    let slab = this.#current;
    if (slab === undefined || slab.used + src.length > SLAB_BYTES) {
      if (slab) this.unref(slab);
      slab = this.#free.pop() ?? new Slab();
      slab.used = 0;
      slab.refs = 1;
      this.#current = slab;
    }
    const at = slab.used;
    src.copy(slab.buf, at);
    slab.used += src.length;
    slab.refs++;
    return new LentPiece(slab.buf.subarray(at, at + src.length), slab, this);
  }

  /** Slabs waiting for reuse (for tests). */
  get freeSlabs(): number {
    return this.#free.length;
  }

  /** @internal Drops one reference to `slab`; the last one returns it to the pool. */
  unref(slab: Slab): void {
    if (--slab.refs > 0) return;
    if (this.#current === slab) this.#current = undefined;
    if (this.#free.length < MAX_FREE_SLABS) this.#free.push(slab);
  }
}

/** The process's pool: every connection's streams share it. */
export const slabs = new SlabPool();
