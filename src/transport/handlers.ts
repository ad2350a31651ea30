import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { ListPage, NodeStat, ObjectKind, PutResult } from "../protocol/types.ts";
import type { IncomingBody } from "./incoming-body.ts";

/**
 * The bytes of a GET, pulled by the transport into buffers it owns (and reuses once the socket is
 * done with them), so serving a chunk allocates nothing per read.
 */
export interface ObjectSource {
  /** Fills the start of `into` with the next bytes; resolves how many (0 only past the end). */
  read(into: Buffer): Promise<number>;
  /** Releases the file; called exactly once, whether the stream completed or not. */
  close(): Promise<void>;
}

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
  delete(kind: ObjectKind, id: string): Promise<boolean>;
  stat(): Promise<NodeStat>;
  list(request: ListRequest): Promise<ListPage>;
}
