import type { Readable } from "node:stream";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { ListPage, NodeStat, ObjectKind, PutResult } from "../protocol/types.ts";

/**
 * What a protocol server serves. The transport decodes requests, calls these, and encodes the
 * results; a thrown DfsError becomes an ERROR frame with its code. `signal` aborts when the peer
 * cancels the request or the connection closes.
 */
export interface RequestHandlers {
  /** The node id sent in READY and PING results. */
  readonly nodeId: string;
  put(request: PutRequest, body: Readable, signal: AbortSignal): Promise<PutResult>;
  get(request: GetRequest, signal: AbortSignal): Promise<{ size: number; length: number; body: Readable }>;
  has(kind: ObjectKind, ids: string[]): Promise<boolean[]>;
  delete(kind: ObjectKind, id: string): Promise<boolean>;
  stat(): Promise<NodeStat>;
  list(request: ListRequest): Promise<ListPage>;
}
