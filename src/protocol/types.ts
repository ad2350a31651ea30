import type { ErrorCode } from "../errors.ts";

/** Value types carried by the node protocol; the transport's API re-exports them. */

/** A stored object is either a chunk (id = SHA-256 of its bytes) or a manifest (id chosen by the gateway). */
export type ObjectKind = "chunk" | "manifest";

export interface ReplicaFailure {
  addr: string;
  code: ErrorCode;
  message: string;
}

export interface PutResult {
  /** Addresses that hold the object durably (fsynced and renamed), in chain order. */
  stored: string[];
  /** Addresses of the chain that did not store it, and why. */
  failed: ReplicaFailure[];
}

export interface NodeStat {
  nodeId: string;
  zone: string;
  capacityBytes: number;
  freeBytes: number;
  chunkCount: number;
  manifestCount: number;
  storedBytes: number;
}

export interface ListPage {
  ids: string[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}
