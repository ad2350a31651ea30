import type { ObjectKind } from "../../formats/index.ts";

/** Objects larger than this are never cached: the cache is for manifests and small files' chunks. */
export const CACHE_OBJECT_MAX_BYTES = 64 * 1024;

/** Where a cached body sits in the arena, and in which pass of the writing head it was put there. */
interface Slot {
  key: string;
  offset: number;
  length: number;
  lap: number;
}

/**
 * Bodies of small objects this node stored or read whole lately, in one arena of maxBytes used as a
 * ring: each body is copied in at the head, and the oldest go as the head comes round over them
 * (first in, first out). A GET of one is answered from memory: no open and no read on the thread
 * pool, each a round trip of ~30 µs of CPU here, where the page cache would have held the bytes
 * anyway. One arena, not a Buffer per body: a Buffer per body lives long enough to reach V8's old
 * space, and the bodies the cache dropped would stay there as garbage until a full GC (measured:
 * +25-35 MiB of node RSS in the bench, for a 16 MiB cache).
 *
 * It is never ahead of or behind the disk: the store changes an entry only under its per-object
 * lock, together with the object (set once a write is published, dropped on delete, quarantine
 * and on a replacement too large to keep), and a read fills it only when no object changed while
 * it read (`mutations`).
 */
export class ObjectCache {
  readonly maxBytes: number;
  #arena: Buffer | undefined;
  readonly #slots = new Map<string, Slot>();
  /** Every slot written, oldest first (some dropped since: those no longer in #slots). */
  #order: Slot[] = [];
  #orderStart = 0;
  #head = 0;
  #lap = 0;
  #bytes = 0;
  #mutations = 0;

  constructor(maxBytes: number) {
    this.maxBytes = Math.max(0, Math.floor(maxBytes));
  }

  /** The largest body kept; -1 when the cache is off. */
  get objectMaxBytes(): number {
    return this.maxBytes > 0 ? Math.min(CACHE_OBJECT_MAX_BYTES, this.maxBytes) : -1;
  }

  /** Whether a body of this size would be kept (an empty one needs no cache). */
  admits(size: number): boolean {
    return size > 0 && size <= this.objectMaxBytes;
  }

  /** A copy of the cached body of kind/id (the arena is overwritten later), or undefined. */
  get(kind: ObjectKind, id: string): Buffer | undefined {
    const slot = this.#slots.get(keyOf(kind, id));
    if (slot === undefined || this.#arena === undefined) return undefined;
    return Buffer.from(this.#arena.subarray(slot.offset, slot.offset + slot.length));
  }

  has(kind: ObjectKind, id: string): boolean {
    return this.#slots.has(keyOf(kind, id));
  }

  /** Records the body now published under kind/id (copied), or drops the entry when it is not admitted. */
  set(kind: ObjectKind, id: string, body: Buffer): void {
    this.delete(kind, id);
    if (!this.admits(body.length)) return;
    this.#arena ??= Buffer.allocUnsafeSlow(this.maxBytes);
    if (this.#head + body.length > this.maxBytes) {
      // Round again: what is left of the last lap but one is the oldest, and goes first.
      this.#evictWhile((s) => s.lap < this.#lap);
      this.#lap++;
      this.#head = 0;
    }
    const end = this.#head + body.length;
    this.#evictWhile((s) => s.lap < this.#lap && s.offset < end);
    body.copy(this.#arena, this.#head);
    const slot: Slot = { key: keyOf(kind, id), offset: this.#head, length: body.length, lap: this.#lap };
    this.#slots.set(slot.key, slot);
    this.#order.push(slot);
    this.#bytes += slot.length;
    this.#head = end;
  }

  /** Forgets kind/id: its file was removed or replaced. Counts as a change for fills in flight. */
  delete(kind: ObjectKind, id: string): void {
    this.#mutations++;
    const key = keyOf(kind, id);
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    this.#bytes -= slot.length;
  }

  /** Changes so far: a read that started at one count may fill the cache only if it is unchanged. */
  get mutations(): number {
    return this.#mutations;
  }

  /** Bytes of the bodies held (the arena itself is maxBytes once the first body came). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** Drops the oldest slots while `test` holds for the oldest. */
  #evictWhile(test: (s: Slot) => boolean): void {
    while (this.#orderStart < this.#order.length) {
      const oldest = this.#order[this.#orderStart]!;
      if (!test(oldest)) break;
      this.#orderStart++;
      if (this.#slots.get(oldest.key) === oldest) {
        this.#slots.delete(oldest.key);
        this.#bytes -= oldest.length;
      }
    }
    // Compact the order list now and then, so it does not grow without bound.
    if (this.#orderStart > 1024 && this.#orderStart * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#orderStart);
      this.#orderStart = 0;
    }
  }
}

function keyOf(kind: ObjectKind, id: string): string {
  return kind === "chunk" ? `c${id}` : `m${id}`;
}
