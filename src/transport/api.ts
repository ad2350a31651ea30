import type { Readable } from "node:stream";
import type { ApplyResult, ListPage, ObjectKind, TableRecord } from "../formats/index.ts";
import type { SyncAnswer, SyncRequest } from "../protocol/sync-messages.ts";
import type { TableReadRequest, TableReadResult } from "../protocol/tables.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";

/** ListPage and ObjectKind are src/formats' own; re-exported for src/node/store, which imports them here. */
export type { ListPage, ObjectKind } from "../formats/index.ts";
export type { TableEntry, TableReadRequest, TableReadResult } from "../protocol/tables.ts";
export type { NodeStat, PutResult, ReplicaFailure } from "../protocol/types.ts";

/**
 * What a caller (gateway, CLI, a node repairing) can ask of storage nodes over the node protocol.
 * Addresses are "host:port" strings as nodes advertise them in the registry. Ids are lowercase hex
 * SHA-256 (64 chars). Every method rejects with a DfsError carrying a stable code.
 */

export interface PutOptions {
  kind?: ObjectKind;
  /** For manifests: SHA-256 of the bytes, which the node verifies instead of the id. */
  checksum?: string;
  /** Further owners; the first node stores and forwards along this chain (HDFS-style pipeline). */
  forward?: readonly string[];
  /**
   * Table records each node of the chain keeps once it holds the object, forwarded with it: a
   * chunk's references (table chunk_refs, partition key = the chunk id). At most MAX_PUT_RECORDS.
   */
  records?: readonly TableRecord[];
  signal?: AbortSignal;
}

export interface GetOptions {
  kind?: ObjectKind;
  offset?: number;
  /** Bytes to read from offset; default to the end. */
  length?: number;
  signal?: AbortSignal;
  /**
   * getBuffer only: a buffer to read into, asked for once the size is known; used when it has room
   * (the result is then a view of its start), else a new one is allocated.
   */
  into?: (length: number) => Buffer;
}

export interface GetResult {
  /** Total size of the stored object (not of the range). */
  size: number;
  /** The requested bytes, streamed with backpressure. Destroying it cancels the request. */
  body: Readable;
}

/** A SYNC answer and what the exchange cost on the link. */
export interface Synced<R extends SyncRequest> {
  answer: SyncAnswer<R>;
  bytes: number;
}

export interface TableCallOptions {
  signal?: AbortSignal | undefined;
}

/** The table requests of the node protocol: what a quorum client (src/tables) needs of nodes. */
export interface TableNodeApi {
  /**
   * TABLE_WRITE: the node applies the records (at most MAX_TABLE_BATCH, within one 64 KiB body)
   * and answers per record, in order, once every applied one is durable.
   */
  tableWrite(
    addr: string,
    records: readonly TableRecord[],
    options?: TableCallOptions,
  ): Promise<ApplyResult[]>;
  /** TABLE_READ: a point read or one page of a range read, tombstones as the request says. */
  tableRead(addr: string, request: TableReadRequest, options?: TableCallOptions): Promise<TableReadResult>;
}

export interface NodeApi extends TableNodeApi {
  put(
    addr: string,
    id: string,
    data: Buffer | Readable,
    size: number,
    options?: PutOptions,
  ): Promise<PutResult>;
  get(addr: string, id: string, options?: GetOptions): Promise<GetResult>;
  /** Reads a whole object into memory: only for objects known to be small (chunks, manifests). */
  getBuffer(addr: string, id: string, options?: GetOptions): Promise<Buffer>;
  has(addr: string, ids: readonly string[], kind?: ObjectKind): Promise<boolean[]>;
  stat(addr: string): Promise<NodeStat>;
  list(addr: string, options?: { kind?: ObjectKind; after?: string; limit?: number }): Promise<ListPage>;
  ping(addr: string): Promise<{ nodeId: string; rttMs: number }>;
  /**
   * A SYNC request (docs/protocol.md): digests or elements of one of the peer's trees, and the
   * bytes the exchange took on the link (both frames: headers, bodies, tags).
   */
  sync<R extends SyncRequest>(addr: string, request: R): Promise<Synced<R>>;
  /** Closes pooled connections; in-flight requests finish first. Idempotent. */
  close(): Promise<void>;
}
