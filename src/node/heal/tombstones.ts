import type { ManifestHeader } from "../../formats/index.ts";

/**
 * Which of this node's tombstones may be dropped (gc.ts): those older than the grace under whose
 * id no node holds a manifest as old as the tombstone or older, which is what a tombstone is
 * there to hide. A newer manifest under the id (the same bytes uploaded again) needs no hiding.
 * This node's own objects are all given first (`own`), then every live node's (`seen`).
 */
export class ExpiredTombstones {
  readonly #graceMs: number;
  readonly #now: number;
  readonly #candidates = new Map<string, number>();

  constructor(graceMs: number, now: number) {
    this.#graceMs = graceMs;
    this.#now = now;
  }

  /** One of this node's manifest objects. */
  own(id: string, h: ManifestHeader): void {
    if (h.type === "tombstone" && this.#now - h.stamp > this.#graceMs) this.#candidates.set(id, h.stamp);
  }

  /** A manifest object a live node holds. */
  seen(id: string, h: ManifestHeader): void {
    if (h.type !== "manifest") return;
    const stamp = this.#candidates.get(id);
    if (stamp !== undefined && h.stamp <= stamp) this.#candidates.delete(id);
  }

  /** The tombstones that may go: id -> stamp. */
  get expired(): ReadonlyMap<string, number> {
    return this.#candidates;
  }
}
