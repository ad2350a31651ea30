import { Placement } from "../../placement/index.ts";
import { PARTITIONS, PartitionSet } from "../sync/index.ts";
import { type Members, membershipKey } from "./members.ts";

/**
 * Who owns what, as one repair round sees it: placement over the members, and from it, per live
 * peer, the partitions this node and that peer both own (what the two compare), the partitions
 * this node owns, and those of them with an owner that is not live (a node within its grace)
 * where this node is the first live owner. Computed once per membership (Layouts caches the last).
 */
export class Layout {
  readonly placement: Placement;
  /** Live peer address -> the partitions both own. */
  readonly shared = new Map<string, PartitionSet>();
  /** The partitions this node owns. */
  readonly owned = new PartitionSet();
  /** Owned partitions with an owner not live, where this node is the first live owner. */
  readonly waiting = new PartitionSet();
  /** Live peers that do not serve SYNC (older nodes): what is shared with them is looked at whole. */
  readonly withoutSync: ReadonlySet<string>;

  constructor(members: Members, self: string, replicas: number) {
    this.placement = new Placement(members.nodes);
    this.withoutSync = new Set(members.withoutSync);
    for (let p = 0; p < PARTITIONS; p++) {
      const owners = this.placement.partitionOrder(p).slice(0, replicas);
      if (!owners.some((n) => n.addr === self)) continue;
      this.owned.add(p);
      for (const { addr } of owners) {
        if (addr === self || !members.live.has(addr)) continue;
        const set = this.shared.get(addr) ?? new PartitionSet();
        this.shared.set(addr, set);
        set.add(p);
      }
      const firstLive = owners.find((n) => members.live.has(n.addr));
      if (firstLive?.addr === self && owners.some((n) => !members.live.has(n.addr))) this.waiting.add(p);
    }
  }
}

/** The layout of the last membership seen: rounds with the same members share it. */
export class Layouts {
  #key = "";
  #layout: Layout | undefined;

  of(members: Members, self: string, replicas: number): Layout {
    const key = `${self} ${replicas} ${membershipKey(members)}`;
    if (this.#layout === undefined || key !== this.#key) {
      this.#layout = new Layout(members, self, replicas);
      this.#key = key;
    }
    return this.#layout;
  }
}
