import { Placement, type PlacementNode } from "../placement/index.ts";

/** What placement needs of a membership view (a registry MembershipView is one). */
export interface LiveNodes {
  /** Moves whenever the live membership or a placement input of a node changed. */
  readonly version: number;
  live(): readonly PlacementNode[];
}

/**
 * The addresses of a placement id's nodes over the live members, best first (its R owners first):
 * the `order` a TableClient takes. Placement is rebuilt only when the view's version moves; orders
 * keep `orderLength` nodes (the gateway keeps 2R + 1 for its reads).
 */
export class LiveOrder {
  readonly #view: LiveNodes;
  readonly #orderLength: number;
  #version = -1;
  #placement: Placement | undefined;

  constructor(view: LiveNodes, orderLength: number) {
    this.#view = view;
    this.#orderLength = orderLength;
  }

  order(placementId: string): string[] {
    if (this.#placement === undefined || this.#view.version !== this.#version) {
      this.#version = this.#view.version;
      this.#placement = new Placement(
        this.#view
          .live()
          .map((n) => ({ id: n.id, addr: n.addr, zone: n.zone, capacityBytes: n.capacityBytes })),
        { orderLength: this.#orderLength },
      );
    }
    return this.#placement.order(placementId).map((n) => n.addr);
  }
}
