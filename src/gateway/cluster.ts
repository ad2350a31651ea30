import { Placement } from "../placement/index.ts";
import type { GatewayView } from "./context.ts";

/**
 * Placement over the live view, rebuilt only when the view's version moves (the live membership,
 * or a placement input of a node, changed). Checking a number per request: building the live list
 * to compare it cost ~2-4% of a small request's CPU.
 */
export class LivePlacement {
  readonly #view: GatewayView;
  #version = -1;
  #placement: Placement | undefined;
  #liveCount = 0;

  constructor(view: GatewayView) {
    this.#view = view;
  }

  #current(): Placement {
    const version = this.#view.version;
    if (this.#placement === undefined || version !== this.#version) {
      const live = this.#view.live();
      this.#placement = new Placement(
        live.map((n) => ({ id: n.id, addr: n.addr, zone: n.zone, capacityBytes: n.capacityBytes })),
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
