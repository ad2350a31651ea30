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
 * kept in step (every set and delete adds and subtracts there). A partition's elements are a
 * linked list of slots in typed arrays, so a lookup walks one partition (about n / 65,536
 * elements: 15 at a million) and nothing is allocated per element. When the element hash is the
 * id itself (`hashIsId`: a chunk, whose id is the SHA-256 of its bytes) only the id is kept.
 *
 * Memory per element: 32 bytes of id, 32 of hash unless hashIsId, 8 of links and key (40 or 72
 * bytes), plus 256 KiB of list heads.
 */
export class ElementIndex {
  readonly tree = new DigestTree();
  readonly #hashIsId: boolean;
  #slots = INITIAL_SLOTS;
  #ids: Buffer;
  #hashes: Buffer | undefined;
  /** The id's bytes 2..5: compared before the whole id (bytes 0..1 are the partition). */
  #keys: Uint32Array;
  #next: Int32Array;
  readonly #heads = new Int32Array(PARTITIONS).fill(NONE);
  #used = 0;
  #free: number[] = [];
  readonly #scratch = Buffer.alloc(ID_BYTES);

  constructor(options: { hashIsId: boolean }) {
    this.#hashIsId = options.hashIsId;
    this.#ids = Buffer.alloc(INITIAL_SLOTS * ID_BYTES);
    this.#hashes = options.hashIsId ? undefined : Buffer.alloc(INITIAL_SLOTS * HASH_BYTES);
    this.#keys = new Uint32Array(INITIAL_SLOTS);
    this.#next = new Int32Array(INITIAL_SLOTS);
  }

  /** Elements held. */
  get size(): number {
    return this.#used - this.#free.length;
  }

  /**
   * Sets the element of `id` (64 hex) to `hash` (32 bytes at `at`; ignored when hashIsId): added
   * when new, its old hash replaced otherwise.
   */
  set(id: string, hash?: Uint8Array, at = 0): void {
    const key = this.#load(id);
    const partition = (key[0]! << 8) | key[1]!;
    const { slot } = this.#find(partition, key);
    if (slot !== NONE) {
      if (this.#hashes === undefined || hash === undefined) return;
      const from = slot * HASH_BYTES;
      if (this.#hashes.compare(hash, at, at + HASH_BYTES, from, from + HASH_BYTES) === 0) return;
      this.tree.remove(partition, this.#hashes, from);
      this.#hashes.set(hash.subarray(at, at + HASH_BYTES), from);
      this.tree.add(partition, this.#hashes, from);
      return;
    }
    if (!this.#hashIsId && hash === undefined) throw new TypeError("an element hash is needed");
    const fresh = this.#allocate();
    key.copy(this.#ids, fresh * ID_BYTES);
    this.#keys[fresh] = key.readUInt32BE(2);
    this.#next[fresh] = this.#heads[partition]!;
    this.#heads[partition] = fresh;
    if (this.#hashes === undefined) return this.tree.add(partition, this.#ids, fresh * ID_BYTES);
    this.#hashes.set(hash!.subarray(at, at + HASH_BYTES), fresh * HASH_BYTES);
    this.tree.add(partition, this.#hashes, fresh * HASH_BYTES);
  }

  /** Takes out the element of `id`; false when there was none. */
  delete(id: string): boolean {
    const key = this.#load(id);
    const partition = (key[0]! << 8) | key[1]!;
    const { slot, before } = this.#find(partition, key);
    if (slot === NONE) return false;
    if (before === NONE) this.#heads[partition] = this.#next[slot]!;
    else this.#next[before] = this.#next[slot]!;
    const [hashes, from] = this.#hashOf(slot);
    this.tree.remove(partition, hashes, from);
    this.#free.push(slot);
    return true;
  }

  /** The element hash of `id`, or undefined. */
  hashOf(id: string): Buffer | undefined {
    const key = this.#load(id);
    const { slot } = this.#find((key[0]! << 8) | key[1]!, key);
    if (slot === NONE) return undefined;
    const [hashes, from] = this.#hashOf(slot);
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

  /** Up to `limit` elements of `partition` with ids after `after`, ascending. */
  page(partition: number, after: string | undefined, limit: number): ElementPage {
    const slots: number[] = [];
    for (let s = this.#heads[partition]!; s !== NONE; s = this.#next[s]!) slots.push(s);
    const idOf = (s: number) => this.#ids.subarray(s * ID_BYTES, (s + 1) * ID_BYTES);
    slots.sort((a, b) => idOf(a).compare(idOf(b)));
    const from = after === undefined ? Buffer.alloc(0) : Buffer.from(after, "hex");
    let start = 0;
    while (start < slots.length && idOf(slots[start]!).compare(from) <= 0) start++;
    const end = Math.min(slots.length, start + limit);
    const elements = Buffer.allocUnsafe((end - start) * (ID_BYTES + HASH_BYTES));
    for (let i = start; i < end; i++) {
      const s = slots[i]!;
      const at = (i - start) * (ID_BYTES + HASH_BYTES);
      this.#ids.copy(elements, at, s * ID_BYTES, (s + 1) * ID_BYTES);
      const [hashes, h] = this.#hashOf(s);
      hashes.copy(elements, at + ID_BYTES, h, h + HASH_BYTES);
    }
    const next = end < slots.length && end > start ? idOf(slots[end - 1]!).toString("hex") : undefined;
    return { elements, next };
  }

  #hashOf(slot: number): [Buffer, number] {
    return this.#hashes === undefined ? [this.#ids, slot * ID_BYTES] : [this.#hashes, slot * HASH_BYTES];
  }

  /** The id's raw bytes in the scratch buffer. */
  #load(id: string): Buffer {
    if (this.#scratch.write(id, 0, ID_BYTES, "hex") !== ID_BYTES) throw new TypeError(`not an id: ${id}`);
    return this.#scratch;
  }

  /** The slot holding `key` in its partition's list and the slot before it (NONE when first). */
  #find(partition: number, key: Buffer): { slot: number; before: number } {
    const k = key.readUInt32BE(2);
    let before = NONE;
    for (let s = this.#heads[partition]!; s !== NONE; before = s, s = this.#next[s]!) {
      if (this.#keys[s] !== k) continue;
      if (this.#ids.compare(key, 0, ID_BYTES, s * ID_BYTES, (s + 1) * ID_BYTES) === 0)
        return { slot: s, before };
    }
    return { slot: NONE, before };
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#used === this.#slots) this.#grow();
    return this.#used++;
  }

  #grow(): void {
    const slots = this.#slots * 2;
    this.#ids = grownBuffer(this.#ids, slots * ID_BYTES);
    if (this.#hashes) this.#hashes = grownBuffer(this.#hashes, slots * HASH_BYTES);
    const keys = new Uint32Array(slots);
    keys.set(this.#keys);
    this.#keys = keys;
    const next = new Int32Array(slots);
    next.set(this.#next);
    this.#next = next;
    this.#slots = slots;
  }
}

function grownBuffer(from: Buffer, bytes: number): Buffer {
  const to = Buffer.alloc(bytes);
  from.copy(to);
  return to;
}
