import { DigestTree, HASH_BYTES, PARTITIONS } from "./digest-tree.ts";

const ID_BYTES = 32;
const INITIAL_SLOTS = 1024;
const NONE = -1;

/** One page of a partition's elements: ids and hashes, 64 bytes each, ascending by id. */
export interface ElementPage {
  /** n × (32-byte id ‖ 32-byte element hash). */
  elements: Buffer;
  /** The last id of the page when more follow. */
  next: string | undefined;
}

/**
 * The elements of one digest tree by id: id -> element hash, listed by partition, with the tree
 * kept in step (every set and delete adds and subtracts there). Elements live in slots of typed
 * arrays, nothing allocated per element: found through an open-addressing table on the id's
 * bytes 2..5 (ids are SHA-256 outputs or keyed from them: uniform; bytes 0..1 are the partition),
 * listed through a doubly linked list per partition. When the element hash is the id itself
 * (`hashIsId`: a chunk, whose id is the SHA-256 of its bytes) only the id is kept.
 *
 * Memory per element: 32 bytes of id, 32 of hash unless hashIsId, 12 of key and links, 8 to 16 of
 * table cells (52-60 or 84-92 bytes), plus 256 KiB of list heads.
 */
export class ElementIndex {
  readonly tree = new DigestTree();
  #slots = INITIAL_SLOTS;
  #ids = Buffer.alloc(INITIAL_SLOTS * ID_BYTES);
  #hashes: Buffer | undefined;
  /** The id's bytes 2..5, as u32: the table's hash, compared before the whole id. */
  #keys = new Uint32Array(INITIAL_SLOTS);
  #next = new Int32Array(INITIAL_SLOTS);
  #prev = new Int32Array(INITIAL_SLOTS);
  readonly #heads = new Int32Array(PARTITIONS).fill(NONE);
  /** Open addressing: slot + 1, 0 for a cell never used, -1 for a deleted one. */
  #table = new Int32Array(INITIAL_SLOTS * 2);
  #cellsInUse = 0;
  #used = 0;
  #free: number[] = [];
  readonly #scratch = Buffer.alloc(ID_BYTES);
  /** One partition's slots in id order (page), dropped when an element joins or leaves it. */
  #sorted: { partition: number; slots: Int32Array } | undefined;

  constructor(options: { hashIsId: boolean }) {
    this.#hashes = options.hashIsId ? undefined : Buffer.alloc(INITIAL_SLOTS * HASH_BYTES);
  }

  /** Elements held. */
  get size(): number {
    return this.#used - this.#free.length;
  }

  /**
   * Sets the element of `id` (64 hex) to `hash` (32 bytes at `at`; ignored when the hash is the
   * id): added when new, its old hash replaced otherwise.
   */
  set(id: string, hash?: Uint8Array, at = 0): void {
    const key = this.#load(id);
    const partition = (key[0]! << 8) | key[1]!;
    const slot = this.#slotOf(key);
    const hashes = this.#hashes;
    if (hashes !== undefined && hash === undefined) throw new TypeError("an element hash is needed");
    if (slot !== NONE) {
      if (hashes === undefined) return;
      const from = slot * HASH_BYTES;
      if (hashes.compare(hash!, at, at + HASH_BYTES, from, from + HASH_BYTES) === 0) return;
      this.tree.remove(partition, hashes, from);
      hashes.set(hash!.subarray(at, at + HASH_BYTES), from);
      this.tree.add(partition, hashes, from);
      return;
    }
    const fresh = this.#allocate();
    key.copy(this.#ids, fresh * ID_BYTES);
    this.#keys[fresh] = key.readUInt32BE(2);
    this.#link(partition, fresh);
    this.#insertCell(fresh);
    // Read again: the slots may have grown into new arrays.
    const grownHashes = this.#hashes;
    if (grownHashes === undefined) return this.tree.add(partition, this.#ids, fresh * ID_BYTES);
    grownHashes.set(hash!.subarray(at, at + HASH_BYTES), fresh * HASH_BYTES);
    this.tree.add(partition, grownHashes, fresh * HASH_BYTES);
  }

  /** Takes out the element of `id`; false when there was none. */
  delete(id: string): boolean {
    const key = this.#load(id);
    const cell = this.#cellOf(key);
    if (cell === NONE) return false;
    const slot = this.#table[cell]! - 1;
    const partition = (key[0]! << 8) | key[1]!;
    this.#table[cell] = -1;
    this.#unlink(partition, slot);
    const [hashes, from] = this.#hashAt(slot);
    this.tree.remove(partition, hashes, from);
    this.#free.push(slot);
    return true;
  }

  /** The element hash of `id`, or undefined. */
  hashOf(id: string): Buffer | undefined {
    const slot = this.#slotOf(this.#load(id));
    if (slot === NONE) return undefined;
    const [hashes, from] = this.#hashAt(slot);
    return Buffer.from(hashes.subarray(from, from + HASH_BYTES));
  }

  /** The ids of one partition, ascending (64 hex each). */
  ids(partition: number): string[] {
    const out: string[] = [];
    for (let s = this.#heads[partition]!; s !== NONE; s = this.#next[s]!) {
      out.push(this.#ids.toString("hex", s * ID_BYTES, (s + 1) * ID_BYTES));
    }
    return out.sort();
  }

  /**
   * Up to `limit` elements of `partition` with ids after `after`, ascending. The partition's slots
   * are sorted once and kept until an element joins or leaves it, so paging through a large
   * partition (a bucket's keys are one) sorts it once, not once a page.
   */
  page(partition: number, after: string | undefined, limit: number): ElementPage {
    const slots = this.#sortedSlots(partition);
    const ids = this.#ids;
    let start = 0;
    if (after !== undefined) {
      // The first slot whose id is above `after`.
      const from = Buffer.from(after, "hex");
      let hi = slots.length;
      while (start < hi) {
        const mid = (start + hi) >>> 1;
        const s = slots[mid]!;
        if (ids.compare(from, 0, ID_BYTES, s * ID_BYTES, (s + 1) * ID_BYTES) <= 0) start = mid + 1;
        else hi = mid;
      }
    }
    const end = Math.min(slots.length, start + limit);
    const elements = Buffer.allocUnsafe((end - start) * (ID_BYTES + HASH_BYTES));
    for (let i = start; i < end; i++) {
      const s = slots[i]!;
      const at = (i - start) * (ID_BYTES + HASH_BYTES);
      ids.copy(elements, at, s * ID_BYTES, (s + 1) * ID_BYTES);
      const [hashes, h] = this.#hashAt(s);
      hashes.copy(elements, at + ID_BYTES, h, h + HASH_BYTES);
    }
    const last = slots[end - 1];
    const next =
      end < slots.length && end > start && last !== undefined
        ? ids.toString("hex", last * ID_BYTES, (last + 1) * ID_BYTES)
        : undefined;
    return { elements, next };
  }

  /** The slots of `partition` in id order: the kept order when the partition has not changed since. */
  #sortedSlots(partition: number): Int32Array {
    if (this.#sorted?.partition === partition) return this.#sorted.slots;
    const list: number[] = [];
    for (let s = this.#heads[partition]!; s !== NONE; s = this.#next[s]!) list.push(s);
    const ids = this.#ids;
    list.sort((a, b) => ids.compare(ids, b * ID_BYTES, (b + 1) * ID_BYTES, a * ID_BYTES, (a + 1) * ID_BYTES));
    const slots = Int32Array.from(list);
    this.#sorted = { partition, slots };
    return slots;
  }

  #hashAt(slot: number): [Buffer, number] {
    return this.#hashes === undefined ? [this.#ids, slot * ID_BYTES] : [this.#hashes, slot * HASH_BYTES];
  }

  /** The id's raw bytes in the scratch buffer. */
  #load(id: string): Buffer {
    if (this.#scratch.write(id, 0, ID_BYTES, "hex") !== ID_BYTES) throw new TypeError(`not an id: ${id}`);
    return this.#scratch;
  }

  #slotOf(key: Buffer): number {
    const cell = this.#cellOf(key);
    return cell === NONE ? NONE : this.#table[cell]! - 1;
  }

  /** The table cell holding `key`, or NONE. */
  #cellOf(key: Buffer): number {
    const k = key.readUInt32BE(2);
    const mask = this.#table.length - 1;
    for (let cell = k & mask; ; cell = (cell + 1) & mask) {
      const v = this.#table[cell]!;
      if (v === 0) return NONE;
      if (v < 0) continue;
      const s = v - 1;
      if (this.#keys[s] !== k) continue;
      if (this.#ids.compare(key, 0, ID_BYTES, s * ID_BYTES, (s + 1) * ID_BYTES) === 0) return cell;
    }
  }

  #insertCell(slot: number): void {
    // At most half full, deleted cells included, so probes stay short.
    if ((this.#cellsInUse + 1) * 2 > this.#table.length) this.#rehash();
    const mask = this.#table.length - 1;
    let cell = this.#keys[slot]! & mask;
    while (this.#table[cell]! > 0) cell = (cell + 1) & mask;
    if (this.#table[cell] === 0) this.#cellsInUse++;
    this.#table[cell] = slot + 1;
  }

  /** A table of four cells per element held (at least its size now), without deleted cells. */
  #rehash(): void {
    let cells = this.#table.length;
    while ((this.size + 1) * 4 > cells) cells *= 2;
    const old = this.#table;
    this.#table = new Int32Array(cells);
    this.#cellsInUse = 0;
    for (const v of old) if (v > 0) this.#insertCell(v - 1);
  }

  #link(partition: number, slot: number): void {
    if (this.#sorted?.partition === partition) this.#sorted = undefined;
    const head = this.#heads[partition]!;
    this.#next[slot] = head;
    this.#prev[slot] = NONE;
    if (head !== NONE) this.#prev[head] = slot;
    this.#heads[partition] = slot;
  }

  #unlink(partition: number, slot: number): void {
    if (this.#sorted?.partition === partition) this.#sorted = undefined;
    const next = this.#next[slot]!;
    const prev = this.#prev[slot]!;
    if (prev === NONE) this.#heads[partition] = next;
    else this.#next[prev] = next;
    if (next !== NONE) this.#prev[next] = prev;
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#used === this.#slots) this.#grow();
    return this.#used++;
  }

  #grow(): void {
    const slots = this.#slots * 2;
    this.#ids = grown(this.#ids, Buffer.alloc(slots * ID_BYTES));
    if (this.#hashes) this.#hashes = grown(this.#hashes, Buffer.alloc(slots * HASH_BYTES));
    this.#keys = grown(this.#keys, new Uint32Array(slots));
    this.#next = grown(this.#next, new Int32Array(slots));
    this.#prev = grown(this.#prev, new Int32Array(slots));
    this.#slots = slots;
  }
}

function grown<T extends Uint8Array | Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
