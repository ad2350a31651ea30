import { Placement } from "../placement/index.ts";
import type { GatewayView } from "./context.ts";

/**
 * Placement over the live view, rebuilt only when the live membership (or a placement input of a
 * node) changes. The signature check costs a string join per request, far less than a rebuild.
 */
export class LivePlacement {
  readonly #view: GatewayView;
  #signature = "";
  #placement: Placement | undefined;

  constructor(view: GatewayView) {
    this.#view = view;
  }

  #current(): Placement {
    const live = this.#view.live();
    const signature = live.map((n) => `${n.id}@${n.addr}/${n.zone}/${n.capacityBytes}`).join(",");
    if (this.#placement === undefined || signature !== this.#signature) {
      this.#placement = new Placement(
        live.map((n) => ({ id: n.id, addr: n.addr, zone: n.zone, capacityBytes: n.capacityBytes })),
      );
      this.#signature = signature;
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
    return this.#view.live().length;
  }
}
