import type { Role } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import { FrameType } from "../protocol/index.ts";
import type { Peer, RequestType } from "../transport/index.ts";

/**
 * What each role may ask of a node (docs/protocol.md has the table and the reasons):
 * - gateway: store and read objects (PUT, GET, HAS), write and read table records, and PING;
 * - node: what repair, scrub, GC and chain forwarding use (PUT, GET, HAS, LIST, PING), STAT,
 *   table records (its own writes, read-repair), and SYNC (anti-entropy between nodes: digests of
 *   what a node holds, node to node only);
 * - admin: look, not touch (PING, STAT, LIST, HAS, TABLE_READ).
 * There is no DELETE: nodes remove only their own copies, by their repair and GC.
 */
const ALLOWED: Readonly<Record<Role, ReadonlySet<RequestType>>> = {
  gateway: new Set([
    FrameType.PING,
    FrameType.PUT,
    FrameType.GET,
    FrameType.HAS,
    FrameType.TABLE_WRITE,
    FrameType.TABLE_READ,
  ]),
  node: new Set([
    FrameType.PING,
    FrameType.PUT,
    FrameType.GET,
    FrameType.HAS,
    FrameType.LIST,
    FrameType.STAT,
    FrameType.TABLE_WRITE,
    FrameType.TABLE_READ,
    FrameType.SYNC,
  ]),
  admin: new Set([FrameType.PING, FrameType.STAT, FrameType.LIST, FrameType.HAS, FrameType.TABLE_READ]),
};

const NAMES = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

/** Throws DFS_ERR_FORBIDDEN unless `peer`'s role may make a request of `type`. */
export function authorize(peer: Peer, type: RequestType): void {
  if (ALLOWED[peer.role].has(type)) return;
  throw new DfsError(
    "DFS_ERR_FORBIDDEN",
    `a ${peer.role} ("${peer.id}") may not send ${NAMES.get(type) ?? `0x${type.toString(16)}`}`,
  );
}

/** Whether `role` may make a request of `type` (for docs and tests). */
export function allowed(role: Role, type: RequestType): boolean {
  return ALLOWED[role].has(type);
}
