import { DfsError } from "../errors.ts";
import { seedWords } from "./hash.ts";
import { Ranker } from "./rank.ts";

export interface PlacementNode {
  id: string;
  addr: string;
  zone: string;
  capacityBytes: number;
}

export interface PlacementOptions {
  /** How many partitions object ids map to: a power of two, 1..65536. Default 4096. */
  partitions?: number;
}

export const DEFAULT_PARTITIONS = 4096;
const MAX_PARTITIONS = 65536;
/** Bounds the index bits the ranking borrows from each key's mantissa (rank.ts). */
export const MAX_NODES = 65536;
const OBJECT_ID = /^[0-9a-f]{64}$/;

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
 * membership): O(N log N) the first time, an array read after. Memory: up to partitions x N
 * references (32 MiB at 1,000 nodes and 4,096 partitions, if every partition is used).
 *
 * Balance is granular: a node's share is a count of partitions, so it strays from its weight by
 * roughly 1/sqrt(partitions x R / N). Measured (bench/placement.ts, R = 3, min-max of the mean):
 * 4,096 partitions keep 30 nodes within 0.88-1.09 but 1,000 nodes only within 0.24-2.03, where
 * 65,536 give 0.76-1.22. Every member must use the same count: changing it moves nearly everything.
 */
export class Placement {
  /** The nodes, sorted by id. */
  readonly nodes: readonly PlacementNode[];
  readonly partitions: number;
  readonly #shift: number;
  readonly #ranker: Ranker;
  readonly #zoneOf: Uint32Array;
  readonly #zoneUsed: Uint8Array;
  readonly #zoneCount: number;
  readonly #ranked: Uint32Array;
  readonly #skipped: Uint32Array;
  readonly #orders: (readonly PlacementNode[] | undefined)[];

  constructor(nodes: readonly PlacementNode[], options: PlacementOptions = {}) {
    const partitions = options.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new DfsError("DFS_ERR_CONFIG", `partitions must be a power of two in 1..${MAX_PARTITIONS}`);
    }
    const bits = Math.log2(partitions);
    if (!Number.isInteger(bits)) throw new DfsError("DFS_ERR_CONFIG", "partitions must be a power of two");
    if (nodes.length > MAX_NODES) throw new DfsError("DFS_ERR_CONFIG", `at most ${MAX_NODES} nodes`);
    this.partitions = partitions;
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
  }

  /** The partition of an object id (64 lowercase hex): its leading bits. */
  partitionOf(objectId: string): number {
    if (!OBJECT_ID.test(objectId)) throw new DfsError("DFS_ERR_INVALID_HASH", "not a 64-hex object id");
    return this.#shift === 32 ? 0 : Number.parseInt(objectId.slice(0, 8), 16) >>> this.#shift;
  }

  /** Every node, best first, for this object: its first R are the object's owners. Frozen, cached. */
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
}

/** A node's rendezvous weight: its capacity, or 1 byte when that is unknown (0 or not a number). */
function weightOf(capacityBytes: number): number {
  return Number.isFinite(capacityBytes) && capacityBytes > 0 ? capacityBytes : 1;
}
