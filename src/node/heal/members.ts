import type { PlacementNode } from "../../placement/index.ts";
import type { NodeInfo } from "../../registry/index.ts";

/** Who placement is computed over, and which of them can be sent copies now. */
export interface Members {
  /** Live nodes plus nodes gone for less than the grace: they keep their share meanwhile. */
  nodes: PlacementNode[];
  /** Addresses of live nodes: the only ones asked, sent or trusted to confirm. */
  live: Set<string>;
  /** Live addresses whose record does not offer "sync" (older nodes): never sent SYNC. */
  withoutSync?: Set<string>;
  /**
   * Live addresses whose record does not say "refs": older nodes, or nodes still building the
   * references of the manifests they hold. Chunks are not collected while there is one.
   */
  withoutRefs?: Set<string>;
}

/**
 * Remembers when each node was last alive, so a node keeps its share of placement for
 * `graceMs` after its last heartbeat, even once the registry dropped its entry (it deregisters on
 * a clean stop and is reaped after a crash, both sooner than the grace): a restart moves nothing.
 */
export class GraceMembers {
  readonly #graceMs: number;
  readonly #seen = new Map<string, { node: PlacementNode; aliveAt: number }>();

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  update(all: readonly NodeInfo[], now = Date.now()): Members {
    const live = new Set<string>();
    const withoutSync = new Set<string>();
    const withoutRefs = new Set<string>();
    for (const n of all) {
      if (n.state === "live" && !n.features?.includes("sync")) withoutSync.add(n.addr);
      if (n.state === "live" && !n.features?.includes("refs")) withoutRefs.add(n.addr);
      const aliveAt = n.state === "live" ? now : now - n.lastHeartbeatAgeMs;
      const prev = this.#seen.get(n.id);
      const node = { id: n.id, addr: n.addr, zone: n.zone, capacityBytes: n.capacityBytes };
      this.#seen.set(n.id, { node, aliveAt: Math.max(aliveAt, prev?.aliveAt ?? 0) });
      if (n.state === "live") live.add(n.addr);
    }
    const nodes: PlacementNode[] = [];
    for (const [id, s] of this.#seen) {
      const gone = now - s.aliveAt;
      if (live.has(s.node.addr) || gone < this.#graceMs) nodes.push(s.node);
      else this.#seen.delete(id);
    }
    // Two entries may share an address (a node restarted under a new id): the live one wins.
    const byAddr = new Map<string, PlacementNode>();
    for (const n of nodes) {
      const other = byAddr.get(n.addr);
      if (!other || all.some((a) => a.id === n.id && a.state === "live")) byAddr.set(n.addr, n);
    }
    return {
      nodes: [...byAddr.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      live,
      withoutSync,
      withoutRefs,
    };
  }
}

/**
 * What a repair round depends on of the membership, as one string: the nodes placement is
 * computed over and which of them are live. Equal keys, same work to do.
 */
export function membershipKey(members: Members): string {
  const nodes = members.nodes.map((n) => `${n.id}@${n.addr}/${n.zone}/${n.capacityBytes}`);
  const old = [...(members.withoutSync ?? [])].sort();
  return `${nodes.join(" ")} | ${[...members.live].sort().join(" ")} | ${old.join(" ")}`;
}
