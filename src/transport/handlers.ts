import type { ApplyResult, ListPage, ObjectKind, ObjectSource, TableRecord } from "../formats/index.ts";
import type { FrameType } from "../protocol/frame.ts";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { SyncDigests, SyncElements, SyncRequest } from "../protocol/sync-messages.ts";
import type { TableReadRequest, TableReadResult } from "../protocol/tables.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";
import type { IncomingBody } from "./incoming-body.ts";
import type { Peer } from "./link.ts";

/** The frame types that are requests. */
export type RequestType =
  | typeof FrameType.PING
  | typeof FrameType.PUT
  | typeof FrameType.GET
  | typeof FrameType.HAS
  | typeof FrameType.STAT
  | typeof FrameType.LIST
  | typeof FrameType.TABLE_WRITE
  | typeof FrameType.TABLE_READ
  | typeof FrameType.SYNC;

/**
 * What a protocol server serves. The transport decodes requests, calls these, and encodes the
 * results; a thrown DfsError becomes an ERROR frame with its code. A PUT's `signal` aborts when
 * the peer cancels the request or the connection closes.
 */
export interface RequestHandlers {
  /** The node id sent in PING results. */
  readonly nodeId: string;
  /**
   * Throws (DFS_ERR_FORBIDDEN) when `peer`, authenticated by its credential, may not make a
   * request of this type; the transport then answers with the error and runs nothing.
   */
  authorize(peer: Peer, type: RequestType): void;
  /** `body` delivers the DATA pieces as they arrive (see IncomingBody); it aborts with the request. */
  put(request: PutRequest, body: IncomingBody, signal: AbortSignal): Promise<PutResult>;
  /** Opens the object; the transport streams it, and stops (closing the source) on a cancel. */
  get(request: GetRequest): Promise<{ size: number; length: number; source: ObjectSource }>;
  has(kind: ObjectKind, ids: string[]): Promise<boolean[]>;
  stat(): Promise<NodeStat>;
  list(request: ListRequest): Promise<ListPage>;
  /** Applies a batch of table records; answers per record, once every applied one is durable. */
  tableWrite(records: TableRecord[]): Promise<ApplyResult[]>;
  /** A point or range read of one (table, partition key); the answer fits one control frame. */
  tableRead(request: TableReadRequest): Promise<TableReadResult>;
  /** Digests or elements of one of the node's trees (docs/protocol.md, "SYNC"). */
  sync(request: SyncRequest): Promise<SyncDigests | SyncElements>;
}
