import { DfsError } from "../errors.ts";
import type { PeerIds } from "./pool.ts";

/** The part of a membership view that maps addresses to node ids (the registry's MembershipView). */
export interface NodeDirectory {
  readonly version: number;
  all(): readonly { readonly id: string; readonly addr: string }[];
}

/**
 * The node id registered at each address, rebuilt when the directory changes. `strict`: an
 * address the directory does not know is refused (a gateway dials only registered nodes);
 * otherwise any node of the cluster may answer there (a node forwarding a chain the gateway chose,
 * before its own view has caught up).
 */
export function peerIdsFrom(directory: () => NodeDirectory | undefined, strict: boolean): PeerIds {
  let seen = -1;
  let seenDirectory: NodeDirectory | undefined;
  let byAddr = new Map<string, string>();
  return (addr) => {
    const d = directory();
    if (d !== undefined && (d !== seenDirectory || d.version !== seen)) {
      byAddr = new Map(d.all().map((n) => [n.addr, n.id]));
      seen = d.version;
      seenDirectory = d;
    }
    const id = d === undefined ? undefined : byAddr.get(addr);
    if (id === undefined && strict) {
      throw new DfsError("DFS_ERR_UNAVAILABLE", `${addr} is not a registered node`);
    }
    return id;
  };
}
