import { DfsError } from "../errors.ts";
import { isObjectId } from "../formats/index.ts";
import { seedWords } from "./hash.ts";
import { Ranker } from "./rank.ts";

export interface PlacementNode {
  id: string;
  addr: string;
  zone: string;
  capacityBytes: number;
}

export interface PlacementOptions {
  /** How many partitions object ids map to: a power of two, 1..65536. Default 65536. */
  partitions?: number;
  /** Nodes each order holds, best first (default ORDER_LENGTH); the rest are never asked. */
  orderLength?: number;
}

export const DEFAULT_PARTITIONS = 65536;
/**
 * Nodes an order holds: the R owners (R <= 16), a read's fallbacks (2R + 1 <= 33 nodes) and a
 * write's, with room to spare. Keeping every node would cost partitions x N references: 512 MiB
 * at 1,000 nodes and 65,536 partitions.
 */
export const ORDER_LENGTH = 48;
const MAX_PARTITIONS = 65536;
/** Bounds the index bits the ranking borrows from each key's mantissa (rank.ts). */
export const MAX_NODES = 65536;

/**
 * Where objects live, computed from the membership alone: every gateway and node given the same
 * nodes (in any order) computes the same answer, so nothing about placement is stored.
 *
 * An object id maps to one of `partitions` partitions by its leading bits; each partition has an
 * order of all nodes, best first, whose first R are the object's owners:
 * - weighted rendezvous by capacityBytes (rank.ts): a node's share of first places is its share of
 *   capacity, and a join or a loss moves only the optimal share of data;
 * - zones: the first positions go to distinct zones (a node of a zone not yet used beats any node of
 *   a used zone), then every other node in rendezvous order. So with at least R zones the R owners
 *   are in R zones, at the price that a small zone holds a copy of everything when zones <= R;
 * - a node with capacityBytes 0 (or not a finite positive number: unknown) weighs 1 byte: it still
 *   appears in every order, so a cluster of such nodes works, but behind any node with real capacity
 *   (except for the zone rule above, which treats it like any other node of its zone).
 *
 * Orders are computed lazily, once per partition for the life of this object (build one per
 * membership), and hold the first ORDER_LENGTH nodes: with at most that many nodes a full sort,
 * O(N log N); with more, every node's key and a selection of the best, O(N log ORDER_LENGTH), which
 * gives the same nodes in the same order as the full sort would. An array read after. Memory: up
 * to partitions x min(N, ORDER_LENGTH) references (24 MiB at 65,536 partitions, if all are used).
 *
 * Balance is granular: a node's share is a count of partitions, so it strays from its weight by
 * roughly 1/sqrt(partitions x R / N). Measured (bench/placement.ts, R = 3, min-max of the mean):
 * 4,096 partitions keep 30 nodes within 0.88-1.09 but 1,000 nodes only within 0.24-2.03, where
 * 65,536, the default, give 0.76-1.22: clusters of a thousand nodes are in scope. Every member must
 * use the same count: changing it moves nearly everything.
 */
export class Placement {
  /** The nodes, sorted by id. */
  readonly nodes: readonly PlacementNode[];
  readonly partitions: number;
  readonly #orderLength: number;
  readonly #shift: number;
  readonly #ranker: Ranker;
  readonly #zoneOf: Uint32Array;
  readonly #zoneUsed: Uint8Array;
  readonly #zoneCount: number;
  readonly #ranked: Uint32Array;
  readonly #skipped: Uint32Array;
  readonly #orders: (readonly PlacementNode[] | undefined)[];
  readonly #nodeOf: (key: number) => number;
  #scratch: PrefixScratch | undefined;

  constructor(nodes: readonly PlacementNode[], options: PlacementOptions = {}) {
    const partitions = options.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new DfsError("DFS_ERR_CONFIG", `partitions must be a power of two in 1..${MAX_PARTITIONS}`);
    }
    const bits = Math.log2(partitions);
    if (!Number.isInteger(bits)) throw new DfsError("DFS_ERR_CONFIG", "partitions must be a power of two");
    if (nodes.length > MAX_NODES) throw new DfsError("DFS_ERR_CONFIG", `at most ${MAX_NODES} nodes`);
    const orderLength = options.orderLength ?? ORDER_LENGTH;
    if (!Number.isInteger(orderLength) || orderLength < 1) {
      throw new DfsError("DFS_ERR_CONFIG", "orderLength must be a positive integer");
    }
    this.partitions = partitions;
    this.#orderLength = orderLength;
    this.#shift = 32 - bits;

    // Canonical order (by id), so the input's order cannot matter.
    const sorted = nodes
      .map((n) => Object.freeze({ id: n.id, addr: n.addr, zone: n.zone, capacityBytes: n.capacityBytes }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.id === sorted[i - 1]!.id) {
        throw new DfsError("DFS_ERR_CONFIG", `two nodes share the id ${sorted[i]!.id}`);
      }
    }
    this.nodes = Object.freeze(sorted);

    const weights = Float64Array.from(sorted, (n) => weightOf(n.capacityBytes));
    this.#ranker = new Ranker(seedWords(sorted.map((n) => n.id)), weights);
    const zones = new Map<string, number>();
    this.#zoneOf = Uint32Array.from(sorted, (n) => {
      if (!zones.has(n.zone)) zones.set(n.zone, zones.size);
      return zones.get(n.zone)!;
    });
    this.#zoneCount = zones.size;
    this.#zoneUsed = new Uint8Array(zones.size);
    this.#ranked = new Uint32Array(sorted.length);
    this.#skipped = new Uint32Array(sorted.length);
    this.#orders = new Array(partitions).fill(undefined);
    const ranker = this.#ranker;
    this.#nodeOf = (key) => ranker.nodeOf(key);
  }

  /** The partition of an object id (64 lowercase hex): its leading bits. */
  partitionOf(objectId: string): number {
    if (!isObjectId(objectId)) throw new DfsError("DFS_ERR_INVALID_HASH", "not a 64-hex object id");
    return this.#shift === 32 ? 0 : Number.parseInt(objectId.slice(0, 8), 16) >>> this.#shift;
  }

  /**
   * The object's first nodes, best first: orderLength of them (ORDER_LENGTH unless given), or all
   * when there are no more. Its first R are the object's owners. Frozen, cached.
   */
  order(objectId: string): readonly PlacementNode[] {
    return this.partitionOrder(this.partitionOf(objectId));
  }

  /** The first `replicas` nodes of the object's order (fewer when there are fewer nodes). */
  owners(objectId: string, replicas: number): readonly PlacementNode[] {
    return this.order(objectId).slice(0, Math.max(0, replicas));
  }

  /** The order of one partition (0..partitions-1): for repair, which walks partitions. */
  partitionOrder(partition: number): readonly PlacementNode[] {
    const cached = this.#orders[partition];
    if (cached) return cached;
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", `no partition ${partition}`);
    }
    const order = Object.freeze(this.#compute(partition));
    this.#orders[partition] = order;
    return order;
  }

  #compute(partition: number): PlacementNode[] {
    const n = this.nodes.length;
    if (n > this.#orderLength) return this.#computePrefix(partition, this.#orderLength);
    const out = new Array<PlacementNode>(n);
    if (n === 0) return out;
    const ranked = this.#ranked;
    this.#ranker.rank(partition, ranked);
    if (this.#zoneCount === 1) {
      for (let i = 0; i < n; i++) out[i] = this.nodes[ranked[i]!]!;
      return out;
    }
    // The best node of each zone first, in rank order; the nodes passed over keep their rank order
    // and go next, then the rest. Once every zone is used, the rest is plain rank order.
    const used = this.#zoneUsed.fill(0);
    let placed = 0;
    let skipped = 0;
    let zonesLeft = this.#zoneCount;
    let i = 0;
    for (; i < n && zonesLeft > 0; i++) {
      const node = ranked[i]!;
      const zone = this.#zoneOf[node]!;
      if (used[zone]) {
        this.#skipped[skipped++] = node;
      } else {
        used[zone] = 1;
        zonesLeft--;
        out[placed++] = this.nodes[node]!;
      }
    }
    for (let s = 0; s < skipped; s++) out[placed++] = this.nodes[this.#skipped[s]!]!;
    for (; i < n; i++) out[placed++] = this.nodes[ranked[i]!]!;
    return out;
  }

  #computePrefix(partition: number, length: number): PlacementNode[] {
    this.#scratch ??= {
      bestOfZone: new Float64Array(this.#zoneCount),
      firsts: new Float64Array(this.#zoneCount),
      heap: new Float64Array(length),
    };
    const keys = this.#ranker.keys(partition);
    const picked = prefixOf(keys, this.#zoneOf, length, this.#nodeOf, this.#scratch);
    return picked.map((i) => this.nodes[i]!);
  }
}

/**
 * The first `length` node indexes of what #compute() would give, without sorting every node. The
 * full order is the best node of each zone, by key, then every other node by key (the nodes passed
 * over while zones were still being filled rank before the rest), so its prefix is: the zones'
 * best nodes (up to `length` of them), then the best of the others, kept in a max-heap of the room
 * left. `scratch` is reused from call to call; keys carry their node's index (rank.ts).
 */
function prefixOf(
  keys: Float64Array,
  zoneOf: Uint32Array,
  length: number,
  nodeOf: (key: number) => number,
  scratch: PrefixScratch,
): number[] {
  const { bestOfZone, firsts, heap } = scratch;
  bestOfZone.fill(Number.POSITIVE_INFINITY);
  for (let i = 0; i < keys.length; i++) {
    const z = zoneOf[i]!;
    if (keys[i]! < bestOfZone[z]!) bestOfZone[z] = keys[i]!;
  }
  firsts.set(bestOfZone);
  firsts.sort();
  const firstCount = Math.min(length, firsts.length);
  const room = length - firstCount;
  let size = 0;
  for (let i = 0; i < keys.length && room > 0; i++) {
    const key = keys[i]!;
    if (key === bestOfZone[zoneOf[i]!]) continue; // its zone's best, among the firsts (keys are distinct)
    if (size < room) {
      heap[size] = key;
      siftUp(heap, size++);
    } else if (key < heap[0]!) {
      heap[0] = key;
      siftDown(heap, size);
    }
  }
  const out = new Array<number>(firstCount + size);
  for (let f = 0; f < firstCount; f++) out[f] = nodeOf(firsts[f]!);
  const rest = heap.subarray(0, size).sort();
  for (let r = 0; r < size; r++) out[firstCount + r] = nodeOf(rest[r]!);
  return out;
}

/** prefixOf's reused memory: a key per zone, twice, and the heap. */
interface PrefixScratch {
  bestOfZone: Float64Array;
  firsts: Float64Array;
  heap: Float64Array;
}

/** Max-heap of keys: moves the one at `at` up to its place. */
function siftUp(heap: Float64Array, at: number): void {
  const key = heap[at]!;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (heap[parent]! >= key) break;
    heap[at] = heap[parent]!;
    at = parent;
  }
  heap[at] = key;
}

/** Max-heap of keys: moves the root down to its place among the first `size`. */
function siftDown(heap: Float64Array, size: number): void {
  const key = heap[0]!;
  let at = 0;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! > heap[child]!) child++;
    if (heap[child]! <= key) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = key;
}

/** A node's rendezvous weight: its capacity, or 1 byte when that is unknown (0 or not a number). */
function weightOf(capacityBytes: number): number {
  return Number.isFinite(capacityBytes) && capacityBytes > 0 ? capacityBytes : 1;
}
