import type { ListPage, ObjectKind, ObjectSource } from "../formats/index.ts";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";
import type { IncomingBody } from "./incoming-body.ts";

/**
 * What a protocol server serves. The transport decodes requests, calls these, and encodes the
 * results; a thrown DfsError becomes an ERROR frame with its code. A PUT's `signal` aborts when
 * the peer cancels the request or the connection closes.
 */
export interface RequestHandlers {
  /** The node id sent in READY and PING results. */
  readonly nodeId: string;
  /** `body` delivers the DATA pieces as they arrive (see IncomingBody); it aborts with the request. */
  put(request: PutRequest, body: IncomingBody, signal: AbortSignal): Promise<PutResult>;
  /** Opens the object; the transport streams it, and stops (closing the source) on a cancel. */
  get(request: GetRequest): Promise<{ size: number; length: number; source: ObjectSource }>;
  has(kind: ObjectKind, ids: string[]): Promise<boolean[]>;
  stat(): Promise<NodeStat>;
  list(request: ListRequest): Promise<ListPage>;
}
