import { partitionSalts, unitScore } from "./hash.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Which 32-bit word of a float64 holds the low mantissa bits. */
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;

/**
 * Weighted rendezvous (highest random weight) ranking of every node for one partition.
 *
 * Node i scores -w_i / ln(u_i), u_i uniform in (0, 1) (hash.ts); the highest score wins, and the
 * chance that node i ranks first is exactly w_i / sum(w). We sort the equivalent key -ln(u_i) / w_i
 * ascending, which is positive and finite.
 *
 * Sorting trick: the lowest `bits` mantissa bits of each key are replaced by the node's index, so a
 * plain numeric sort of a Float64Array (native, no comparator: ~2.5x faster at 1,000 nodes) sorts
 * the nodes and carries their indexes along. That moves a key by at most 2^(bits-52) of itself
 * (2^-42 at 1,000 nodes): it only decides between keys closer than that, and does so the same way
 * on every machine, as the index is the node's place in id order.
 */
export class Ranker {
  readonly #seeds: Uint32Array;
  readonly #weights: Float64Array;
  readonly #keys: Float64Array;
  readonly #words: Uint32Array;
  readonly #mask: number;

  /** `seeds` from seedWords(), `weights` > 0, both in the same (id) order. */
  constructor(seeds: Uint32Array, weights: Float64Array) {
    this.#seeds = seeds;
    this.#weights = weights;
    // Scratch space reused by every call: new memory is what costs most here.
    this.#keys = new Float64Array(weights.length);
    this.#words = new Uint32Array(this.#keys.buffer);
    const bits = Math.max(1, Math.ceil(Math.log2(weights.length)));
    this.#mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  }

  /** Node indexes for `partition`, best first, written into `out` (as long as there are nodes). */
  rank(partition: number, out: Uint32Array): void {
    const keys = this.keys(partition);
    keys.sort();
    const words = this.#words;
    for (let i = 0; i < keys.length; i++) out[i] = words[2 * i + LOW_WORD]! & this.#mask;
  }

  /**
   * Every node's key for `partition`, node i at [i], its index in the low bits: the smaller the
   * better, and distinct. Scratch space, overwritten by the next call: read it before then.
   */
  keys(partition: number): Float64Array {
    const keys = this.#keys;
    const words = this.#words;
    const mask = this.#mask;
    const [sa, sb] = partitionSalts(partition);
    for (let i = 0; i < keys.length; i++) {
      keys[i] = -Math.log(unitScore(this.#seeds, i, sa, sb)) / this.#weights[i]!;
      const w = 2 * i + LOW_WORD;
      words[w] = ((words[w]! & ~mask) | i) >>> 0;
    }
    return keys;
  }

  /** The node index a key carries in its low bits. */
  nodeOf(key: number): number {
    KEY[0] = key;
    return KEY_WORDS[LOW_WORD]! & this.#mask;
  }
}

const KEY = new Float64Array(1);
const KEY_WORDS = new Uint32Array(KEY.buffer);
