import type { ErrorCode } from "../errors.ts";
import type { StoreUsage } from "../formats/index.ts";

/** Value types carried by the node protocol; the transport's API re-exports them. */

export type { ListPage, ObjectKind } from "../formats/index.ts";

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

/** A node's answer to STAT: who it is, and its store's usage. */
export interface NodeStat extends StoreUsage {
  nodeId: string;
  zone: string;
}
