import { DEFAULT_PARTITIONS } from "../../placement/index.ts";

/** The placement partitions a tree has leaves for: an id's leading 16 bits, as src/placement maps ids. */
export const PARTITIONS = DEFAULT_PARTITIONS;
/** Groups under the root: an id's leading 8 bits; each holds 256 consecutive partitions. */
export const GROUPS = 256;
export const PARTITIONS_PER_GROUP = PARTITIONS / GROUPS;
/** An element's hash, and a sum of them. */
export const HASH_BYTES = 32;
/** A digest as it is compared and sent: u32 count, then the sum as 8 lanes of u32, all big-endian. */
export const DIGEST_BYTES = 4 + HASH_BYTES;
const LANES = HASH_BYTES / 4;

/**
 * Digests of a set of elements, each element a (partition, 32-byte hash), kept up to date as
 * elements come and go: a leaf per partition (65,536), a node per group of 256 partitions, the
 * root. What an element is belongs to the caller (an object: object-digests.ts; a table record
 * could be another); the tree only adds and subtracts.
 *
 * A digest is a count and a sum: the element hashes read as 8 lanes of 32 bits, each lane summed
 * mod 2^32 (the group (Z/2^32)^8, of order 2^256). Why sums: they combine, so a group's digest
 * is the sum of its partitions' and the digest of any set of partitions (the ones two nodes
 * share) costs one addition per partition, with no per-set tree to keep; an element leaves by
 * subtraction, in O(1), so nothing is rebuilt per round. Why lanes of 32 bits and not one sum mod
 * 2^256: JavaScript adds 32-bit lanes in doubles exactly and a Uint32Array store wraps them, with
 * no BigInt and no carries; the group has the same order, and a random difference still goes
 * unseen with probability 2^-256. Why not XOR, which also combines and subtracts: XOR is linear
 * over GF(2), so an element counted twice vanishes (a ⊕ a = 0: a bug or a replay that adds an
 * element twice looks like one never added), and anyone can pick, by Gaussian elimination over
 * 256 random hashes, a subset whose XOR equals any target: a peer could make different sets look
 * equal at will. A sum keeps multiplicity (a + a = 2a) and forging a collision becomes a
 * subset-sum problem over 2^256. The count is carried beside the sum so sizes are compared too.
 *
 * Memory: 36 bytes per partition and per group (2.4 MiB per tree).
 */
export class DigestTree {
  readonly #counts = new Uint32Array(PARTITIONS);
  readonly #sums = new Uint32Array(PARTITIONS * LANES);
  readonly #groupCounts = new Uint32Array(GROUPS);
  readonly #groupSums = new Uint32Array(GROUPS * LANES);

  /** Adds the element whose hash is the 32 bytes at `at` in `hash`. */
  add(partition: number, hash: Uint8Array, at = 0): void {
    this.#apply(partition, hash, at, 1);
  }

  /** Takes out an element added before, with the same hash. */
  remove(partition: number, hash: Uint8Array, at = 0): void {
    this.#apply(partition, hash, at, -1);
  }

  /** Elements in one partition. */
  count(partition: number): number {
    return this.#counts[partition]!;
  }

  /** Elements in all. */
  get size(): number {
    let n = 0;
    for (let g = 0; g < GROUPS; g++) n += this.#groupCounts[g]!;
    return n;
  }

  /** The digest of one partition, written at `at` in `out` (DIGEST_BYTES). */
  partitionDigest(partition: number, out: Buffer, at = 0): void {
    write(out, at, this.#counts[partition]!, this.#sums, partition * LANES);
  }

  /** The digest of every partition `set` holds together: the root over those partitions. */
  digestOver(set: PartitionSet): Buffer {
    const acc = new Uint32Array(LANES + 1);
    for (let g = 0; g < GROUPS; g++) this.#addGroupOver(g, set, acc);
    const out = Buffer.allocUnsafe(DIGEST_BYTES);
    write(out, 0, acc[LANES]!, acc, 0);
    return out;
  }

  /** The digest of each group (256, in order) over the partitions `set` holds; empty groups' are zero. */
  groupsOver(set: PartitionSet): Buffer {
    const out = Buffer.allocUnsafe(GROUPS * DIGEST_BYTES);
    const acc = new Uint32Array(LANES + 1);
    for (let g = 0; g < GROUPS; g++) {
      acc.fill(0);
      this.#addGroupOver(g, set, acc);
      write(out, g * DIGEST_BYTES, acc[LANES]!, acc, 0);
    }
    return out;
  }

  /** Adds group g's elements in the partitions of `set` to acc (lanes, then the count). */
  #addGroupOver(g: number, set: PartitionSet, acc: Uint32Array): void {
    const cover = set.groupCover(g);
    if (cover === "none") return;
    if (cover === "all") return addInto(acc, this.#groupSums, g * LANES, this.#groupCounts[g]!);
    const first = g * PARTITIONS_PER_GROUP;
    for (let p = first; p < first + PARTITIONS_PER_GROUP; p++) {
      if (set.has(p) && this.#counts[p] !== 0) addInto(acc, this.#sums, p * LANES, this.#counts[p]!);
    }
  }

  #apply(partition: number, hash: Uint8Array, at: number, sign: 1 | -1): void {
    const group = partition >>> 8;
    const p = partition * LANES;
    const g = group * LANES;
    for (let lane = 0; lane < LANES; lane++) {
      const i = at + lane * 4;
      const v = (sign * ((hash[i]! << 24) | (hash[i + 1]! << 16) | (hash[i + 2]! << 8) | hash[i + 3]!)) >>> 0;
      // A Uint32Array store wraps mod 2^32; the operands are exact in doubles.
      this.#sums[p + lane] = this.#sums[p + lane]! + v;
      this.#groupSums[g + lane] = this.#groupSums[g + lane]! + v;
    }
    this.#counts[partition] = this.#counts[partition]! + sign;
    this.#groupCounts[group] = this.#groupCounts[group]! + sign;
  }
}

function addInto(acc: Uint32Array, sums: Uint32Array, from: number, count: number): void {
  for (let lane = 0; lane < LANES; lane++) acc[lane] = acc[lane]! + sums[from + lane]!;
  acc[LANES] = acc[LANES]! + count;
}

function write(out: Buffer, at: number, count: number, lanes: Uint32Array, from: number): void {
  out.writeUInt32BE(count, at);
  for (let lane = 0; lane < LANES; lane++) out.writeUInt32BE(lanes[from + lane]!, at + 4 + lane * 4);
}

/**
 * A set of partitions as a bitmap of 65,536 bits (8 KiB), partition p at bit 7 - p % 8 of byte
 * p / 8: the form SYNC requests carry it in (docs/protocol.md).
 */
export class PartitionSet {
  static readonly BYTES = PARTITIONS / 8;
  readonly bytes: Uint8Array;

  /** An empty set, or the set `bytes` describe (kept, not copied; BYTES long). */
  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined && bytes.length !== PartitionSet.BYTES) {
      throw new RangeError(`a partition set is ${PartitionSet.BYTES} bytes`);
    }
    this.bytes = bytes ?? new Uint8Array(PartitionSet.BYTES);
  }

  add(partition: number): void {
    this.bytes[partition >>> 3]! |= 0x80 >>> (partition & 7);
  }

  has(partition: number): boolean {
    return (this.bytes[partition >>> 3]! & (0x80 >>> (partition & 7))) !== 0;
  }

  /** Whether group g's partitions are all in the set, none, or some. */
  groupCover(group: number): "all" | "none" | "some" {
    const from = group * (PARTITIONS_PER_GROUP / 8);
    let and = 0xff;
    let or = 0;
    for (let i = from; i < from + PARTITIONS_PER_GROUP / 8; i++) {
      and &= this.bytes[i]!;
      or |= this.bytes[i]!;
    }
    return and === 0xff ? "all" : or === 0 ? "none" : "some";
  }

  get size(): number {
    let n = 0;
    for (const b of this.bytes) n += BITS[b]!;
    return n;
  }

  /** The partitions in the set, ascending, of the groups `groups` names (all groups when absent). */
  list(groups?: Iterable<number>): number[] {
    const out: number[] = [];
    for (const g of groups ?? Array.from({ length: GROUPS }, (_, i) => i)) {
      const first = g * PARTITIONS_PER_GROUP;
      for (let p = first; p < first + PARTITIONS_PER_GROUP; p++) if (this.has(p)) out.push(p);
    }
    return out;
  }
}

const BITS = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v !== 0; v >>= 1) n += v & 1;
  return n;
});
