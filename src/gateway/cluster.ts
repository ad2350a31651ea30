import { Placement } from "../placement/index.ts";
import type { GatewayView } from "./context.ts";

/**
 * How many nodes, in placement order, a read asks before it gives up (and a write may fall back
 * to). Objects live on the first R (or, after a write fell back, the next few) until repair moves
 * them, so asking every node of a large cluster would only make a miss slow.
 */
export function readFanoutOf(replicas: number): number {
  return replicas * 2 + 1;
}

/**
 * The placement of the live nodes, cached per version of the membership view: rebuilt only when
 * the version moves (the live membership, or a placement input of a node, changed). Checking a
 * number per request: building the live list to compare it cost ~2-4% of a small request's CPU. Orders hold the read fan-out's nodes and no
 * more: nothing in the gateway looks further, and 65,536 partitions of them stay small.
 */
export class PlacementCache {
  readonly #view: GatewayView;
  readonly #orderLength: number;
  #version = -1;
  #placement: Placement | undefined;
  #liveCount = 0;

  constructor(view: GatewayView, replicas: number) {
    this.#view = view;
    this.#orderLength = readFanoutOf(replicas);
  }

  #current(): Placement {
    const version = this.#view.version;
    if (this.#placement === undefined || version !== this.#version) {
      const live = this.#view.live();
      this.#placement = new Placement(
        live.map((n) => ({ id: n.id, addr: n.addr, zone: n.zone, capacityBytes: n.capacityBytes })),
        { orderLength: this.#orderLength },
      );
      this.#liveCount = live.length;
      this.#version = version;
    }
    return this.#placement;
  }

  /** Addresses of every live node, best first for this object. */
  order(objectId: string): string[] {
    return this.#current()
      .order(objectId)
      .map((n) => n.addr);
  }

  liveCount(): number {
    this.#current();
    return this.#liveCount;
  }
}
