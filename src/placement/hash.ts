import { createHash } from "node:crypto";

/**
 * The random-looking, stable numbers rendezvous hashing needs: one per (partition, node).
 *
 * Why not sha256 per pair: at 1,000 nodes that is ~1,000 hashes (~2 ms) per partition. Instead each
 * node id is hashed ONCE per membership with sha256 into four 32-bit seed words (so ids of any form,
 * "node-1" or a UUID, spread uniformly), and the per-pair number is a keyed mix of the partition
 * with those words through the murmur3 finalizer (a bijection with full avalanche), two rounds per
 * 32-bit half: ~20 ns a pair. Not cryptographic, and it needs not be: placement is not a secret, and
 * node ids are chosen by operators, not attackers. It is pinned by test/placement-vectors.test.ts:
 * every gateway and node must compute the same numbers, so changing it moves data.
 */

/** The four seed words of each node id, node i at [4i, 4i + 4). */
export function seedWords(ids: readonly string[]): Uint32Array {
  const words = new Uint32Array(ids.length * 4);
  for (const [i, id] of ids.entries()) {
    const digest = createHash("sha256").update(id, "utf8").digest();
    for (let w = 0; w < 4; w++) words[i * 4 + w] = digest.readUInt32BE(w * 4);
  }
  return words;
}

/** murmur3's 32-bit finalizer. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two per-partition salts, computed once per partition rather than once per node. */
export function partitionSalts(partition: number): [number, number] {
  return [fmix32(partition ^ 0x9e3779b9), fmix32(partition ^ 0x7f4a7c15)];
}

const TWO_POW_21 = 2 ** 21;
const TWO_POW_MINUS_53 = 2 ** -53;

/**
 * A number uniform in (0, 1), 53 bits, for node `i` in the partition with salts `sa`, `sb`: never
 * 0 or 1, so its logarithm is finite and negative.
 */
export function unitScore(words: Uint32Array, i: number, sa: number, sb: number): number {
  const hi = fmix32(fmix32(sa ^ words[i * 4]!) ^ words[i * 4 + 1]!);
  const lo = fmix32(fmix32(sb ^ words[i * 4 + 2]!) ^ words[i * 4 + 3]!);
  return (hi * TWO_POW_21 + (lo >>> 11) + 0.5) * TWO_POW_MINUS_53;
}
