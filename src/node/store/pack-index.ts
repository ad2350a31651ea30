import type { ObjectKind } from "../../formats/index.ts";

/** Where a live packed object's record is: numbers only. */
export interface IndexEntry {
  /** The pack's sequence number. */
  pack: number;
  /** Offset of the record's header in its pack. */
  at: number;
  size: number;
  writtenAt: number;
}

const ID_BYTES = 32;
const FREE = 255;
const INITIAL_SLOTS = 1024;

/**
 * The packs' index: kind + id -> entry, in fixed-size slots of typed arrays (65 bytes a slot: the
 * raw id, the numbers, a hash-table cell and a bucket cell; ~120 bytes an object measured over
 * 300 000, capacity that doubles included), where a Map of strings and entry objects took ~330. Lookups hash the id's first 32 bits (ids are SHA-256: uniform) into an open-addressing
 * table; listings sort one bucket (the id's first byte) at a time.
 */
export class PackIndex {
  #slots = INITIAL_SLOTS;
  #ids = Buffer.alloc(INITIAL_SLOTS * ID_BYTES);
  #kinds = new Uint8Array(INITIAL_SLOTS).fill(FREE);
  #packs = new Uint32Array(INITIAL_SLOTS);
  #ats = new Float64Array(INITIAL_SLOTS);
  #sizes = new Uint32Array(INITIAL_SLOTS);
  #written = new Float64Array(INITIAL_SLOTS);
  /** Slots below this have been used; freed ones are reused first. */
  #next = 0;
  #free: number[] = [];
  /** Open addressing: slot + 1, 0 for never used, -1 for a deleted cell. */
  #table = new Int32Array(INITIAL_SLOTS * 2);
  #cellsInUse = 0;
  /** Slots by kind and first id byte, unsorted. */
  readonly #buckets: Bucket[][] = [newBuckets(), newBuckets()];
  readonly #key = Buffer.alloc(ID_BYTES);
  #size = 0;

  /** Live entries. */
  get size(): number {
    return this.#size;
  }

  get(kind: ObjectKind, id: string): IndexEntry | undefined {
    const slot = this.#find(kind, id);
    return slot < 0 ? undefined : this.#entry(slot);
  }

  /** Sets the entry of kind/id; returns the one it replaced. */
  set(kind: ObjectKind, id: string, entry: IndexEntry): IndexEntry | undefined {
    let slot = this.#find(kind, id);
    const previous = slot < 0 ? undefined : this.#entry(slot);
    if (slot < 0) {
      slot = this.#allocate();
      this.#ids.write(id, slot * ID_BYTES, ID_BYTES, "hex");
      this.#kinds[slot] = kindCode(kind);
      this.#insertCell(slot);
      pushBucket(this.#buckets[kindCode(kind)]![this.#ids[slot * ID_BYTES]!]!, slot);
      this.#size++;
    }
    this.#packs[slot] = entry.pack;
    this.#ats[slot] = entry.at;
    this.#sizes[slot] = entry.size;
    this.#written[slot] = entry.writtenAt;
    return previous;
  }

  /** Removes kind/id; returns the entry it had. */
  delete(kind: ObjectKind, id: string): IndexEntry | undefined {
    const cell = this.#findCell(kind, id);
    if (cell < 0) return undefined;
    const slot = this.#table[cell]! - 1;
    const previous = this.#entry(slot);
    this.#table[cell] = -1;
    removeFromBucket(this.#buckets[kindCode(kind)]![this.#ids[slot * ID_BYTES]!]!, slot);
    this.#kinds[slot] = FREE;
    this.#free.push(slot);
    this.#size--;
    return previous;
  }

  /** Live objects of a kind and the sum of their sizes. */
  count(kind: ObjectKind): { count: number; bytes: number } {
    const code = kindCode(kind);
    let count = 0;
    let bytes = 0;
    for (let slot = 0; slot < this.#next; slot++) {
      if (this.#kinds[slot] !== code) continue;
      count++;
      bytes += this.#sizes[slot]!;
    }
    return { count, bytes };
  }

  /** Ids of a kind in ascending order, strictly after `after`, at most `max`. */
  ids(kind: ObjectKind, after: string, max: number): string[] {
    const out: string[] = [];
    const first = after === "" ? 0 : Number.parseInt(after.slice(0, 2), 16);
    const buckets = this.#buckets[kindCode(kind)]!;
    for (let b = first; b < 256 && out.length < max; b++) {
      const bucket = buckets[b]!;
      const ids: string[] = [];
      for (let i = 0; i < bucket.length; i++) {
        const slot = bucket.slots[i]!;
        const id = this.#ids.toString("hex", slot * ID_BYTES, (slot + 1) * ID_BYTES);
        if (id > after) ids.push(id);
      }
      ids.sort();
      for (const id of ids) {
        out.push(id);
        if (out.length >= max) break;
      }
    }
    return out;
  }

  /** The objects whose record is in pack `seq` (compaction; a walk over every slot). */
  inPack(seq: number): { kind: ObjectKind; id: string }[] {
    const out: { kind: ObjectKind; id: string }[] = [];
    for (let slot = 0; slot < this.#next; slot++) {
      const code = this.#kinds[slot]!;
      if (code === FREE || this.#packs[slot] !== seq) continue;
      out.push({ kind: kindOf(code), id: this.#ids.toString("hex", slot * ID_BYTES, (slot + 1) * ID_BYTES) });
    }
    return out;
  }

  #entry(slot: number): IndexEntry {
    return {
      pack: this.#packs[slot]!,
      at: this.#ats[slot]!,
      size: this.#sizes[slot]!,
      writtenAt: this.#written[slot]!,
    };
  }

  #find(kind: ObjectKind, id: string): number {
    const cell = this.#findCell(kind, id);
    return cell < 0 ? -1 : this.#table[cell]! - 1;
  }

  /** The table cell holding kind/id, or -1. */
  #findCell(kind: ObjectKind, id: string): number {
    if (this.#key.write(id, 0, ID_BYTES, "hex") !== ID_BYTES) return -1;
    const code = kindCode(kind);
    const mask = this.#table.length - 1;
    for (let cell = hashOf(this.#key, code) & mask; ; cell = (cell + 1) & mask) {
      const v = this.#table[cell]!;
      if (v === 0) return -1;
      if (v < 0) continue;
      const slot = v - 1;
      if (
        this.#kinds[slot] === code &&
        this.#ids.compare(this.#key, 0, ID_BYTES, slot * ID_BYTES, (slot + 1) * ID_BYTES) === 0
      ) {
        return cell;
      }
    }
  }

  #insertCell(slot: number): void {
    // Keep the table at most half full, deleted cells included, so probes stay short.
    if ((this.#cellsInUse + 1) * 2 > this.#table.length) this.#rehash();
    const mask = this.#table.length - 1;
    let cell = hashOf(this.#ids.subarray(slot * ID_BYTES), this.#kinds[slot]!) & mask;
    while (this.#table[cell]! > 0) cell = (cell + 1) & mask;
    if (this.#table[cell] === 0) this.#cellsInUse++;
    this.#table[cell] = slot + 1;
  }

  /** A table sized for the live entries (twice them, at least), without deleted cells. */
  #rehash(): void {
    let cells = this.#table.length;
    while ((this.#size + 1) * 4 > cells) cells *= 2;
    this.#table = new Int32Array(cells);
    this.#cellsInUse = 0;
    const mask = cells - 1;
    for (let slot = 0; slot < this.#next; slot++) {
      const code = this.#kinds[slot]!;
      if (code === FREE) continue;
      let cell = hashOf(this.#ids.subarray(slot * ID_BYTES), code) & mask;
      while (this.#table[cell] !== 0) cell = (cell + 1) & mask;
      this.#table[cell] = slot + 1;
      this.#cellsInUse++;
    }
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#next === this.#slots) this.#grow();
    return this.#next++;
  }

  #grow(): void {
    const slots = this.#slots * 2;
    const ids = Buffer.alloc(slots * ID_BYTES);
    this.#ids.copy(ids);
    this.#ids = ids;
    const kinds = new Uint8Array(slots).fill(FREE);
    kinds.set(this.#kinds);
    this.#kinds = kinds;
    this.#packs = grown(this.#packs, new Uint32Array(slots));
    this.#ats = grown(this.#ats, new Float64Array(slots));
    this.#sizes = grown(this.#sizes, new Uint32Array(slots));
    this.#written = grown(this.#written, new Float64Array(slots));
    this.#slots = slots;
  }
}

interface Bucket {
  slots: Int32Array;
  length: number;
}

function newBuckets(): Bucket[] {
  return Array.from({ length: 256 }, () => ({ slots: new Int32Array(0), length: 0 }));
}

function pushBucket(bucket: Bucket, slot: number): void {
  if (bucket.length === bucket.slots.length) {
    const bigger = new Int32Array(Math.max(8, bucket.slots.length * 2));
    bigger.set(bucket.slots);
    bucket.slots = bigger;
  }
  bucket.slots[bucket.length++] = slot;
}

function removeFromBucket(bucket: Bucket, slot: number): void {
  const i = bucket.slots.subarray(0, bucket.length).indexOf(slot);
  if (i < 0) return;
  bucket.slots[i] = bucket.slots[--bucket.length]!;
}

function grown<T extends Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

function kindCode(kind: ObjectKind): number {
  return kind === "chunk" ? 0 : 1;
}

function kindOf(code: number): ObjectKind {
  return code === 0 ? "chunk" : "manifest";
}

/** The id's first four bytes (SHA-256 output: uniform), mixed with the kind. */
function hashOf(id: Uint8Array, code: number): number {
  return ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) ^ (code * 0x9e3779b9);
}
