import type { ObjectKind } from "../../transport/api.ts";

/** Objects larger than this are never cached: the cache is for manifests and small files' chunks. */
export const CACHE_OBJECT_MAX_BYTES = 64 * 1024;

/**
 * Bodies of small objects this node stored or read whole lately, least recently used dropped first,
 * bounded in bytes. A GET of one is answered from memory: no open and no read on the thread pool,
 * each a round trip of ~30 µs of CPU here, where the page cache would have held the bytes anyway.
 *
 * It is never ahead of or behind the disk: the store changes an entry only under its per-object
 * lock, together with the file (set after the rename that published it, dropped on delete,
 * quarantine and on a replacement too large to keep), and a read fills it only when no object
 * changed while it read (`mutations`).
 */
export class ObjectCache {
  readonly maxBytes: number;
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;
  #mutations = 0;

  constructor(maxBytes: number) {
    this.maxBytes = Math.max(0, maxBytes);
  }

  /** The largest body kept; -1 when the cache is off. */
  get objectMaxBytes(): number {
    return this.maxBytes > 0 ? Math.min(CACHE_OBJECT_MAX_BYTES, this.maxBytes) : -1;
  }

  /** Whether a body of this size would be kept. */
  admits(size: number): boolean {
    return size <= this.objectMaxBytes;
  }

  get(kind: ObjectKind, id: string): Buffer | undefined {
    const key = keyOf(kind, id);
    const body = this.#entries.get(key);
    if (body === undefined) return undefined;
    // Map order is recency order: move it to the young end.
    this.#entries.delete(key);
    this.#entries.set(key, body);
    return body;
  }

  /** Records the body now published under kind/id (or drops the entry when it is not admitted). */
  set(kind: ObjectKind, id: string, body: Buffer): void {
    this.delete(kind, id);
    if (!this.admits(body.length)) return;
    this.#entries.set(keyOf(kind, id), body);
    this.#bytes += body.length;
    for (const [key, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(key);
      this.#bytes -= old.length;
    }
  }

  /** Forgets kind/id: its file was removed or replaced. Counts as a change for fills in flight. */
  delete(kind: ObjectKind, id: string): void {
    this.#mutations++;
    const key = keyOf(kind, id);
    const old = this.#entries.get(key);
    if (old === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= old.length;
  }

  /** Changes so far: a read that started at one count may fill the cache only if it is unchanged. */
  get mutations(): number {
    return this.#mutations;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }
}

function keyOf(kind: ObjectKind, id: string): string {
  return kind === "chunk" ? `c${id}` : `m${id}`;
}
