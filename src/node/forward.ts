import { DfsError } from "../errors.ts";
import type { MembershipView } from "../registry/index.ts";

/** What the guard reads of the registry view: its live members, and when that set changed. */
export type ForwardView = Pick<MembershipView, "live" | "version">;

/**
 * Which addresses a chain PUT may be forwarded to: only live members of this node's registry
 * view, never this node itself (by its address, or by its id under any address a member record
 * gives it). Anything else fails the PUT with DFS_ERR_FORWARD_REFUSED before a byte is stored or
 * a connection dialled, so a peer cannot make a node dial arbitrary hosts or loop a chain. A node
 * without a registry view (running unregistered) forwards to nobody.
 */
export class ForwardGuard {
  readonly #selfId: string;
  readonly #selfAddr: () => string;
  #view: ForwardView | undefined;
  /** Live members' address -> id, rebuilt when the view's version moves. */
  #byAddr = new Map<string, string>();
  #version = -1;

  constructor(selfId: string, selfAddr: () => string) {
    this.#selfId = selfId;
    this.#selfAddr = selfAddr;
  }

  /** From now on forward lists are checked against this view. */
  use(view: ForwardView): void {
    this.#view = view;
    this.#version = -1;
  }

  /** Throws DFS_ERR_FORWARD_REFUSED unless every address is a distinct live member other than this node. */
  check(forward: readonly string[]): void {
    if (forward.length === 0) return;
    const view = this.#view;
    if (!view) throw refused("this node has no registry view: it forwards to nobody");
    const members = this.#members(view);
    const seen = new Set<string>();
    for (const [i, addr] of forward.entries()) {
      const id = members.get(addr);
      if (addr === this.#selfAddr() || id === this.#selfId) {
        throw refused(`forward address ${i} names this node: the chain would loop`);
      }
      if (id === undefined) throw refused(`forward address ${i} is not a live member of the cluster`);
      if (seen.has(id)) throw refused(`forward address ${i} names a node already in the chain`);
      seen.add(id);
    }
  }

  #members(view: ForwardView): ReadonlyMap<string, string> {
    if (view.version !== this.#version) {
      this.#byAddr = new Map(view.live().map((n) => [n.addr, n.id]));
      this.#version = view.version;
    }
    return this.#byAddr;
  }
}

function refused(message: string): DfsError {
  return new DfsError("DFS_ERR_FORWARD_REFUSED", message);
}
