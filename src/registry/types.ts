import type { EventEmitter } from "node:events";
import type { HealCounters, StoreCounters } from "../formats/index.ts";

/** Kept under this name for src/node/store, which imports it from here; src/formats names it StoreCounters. */
export type StoreStatsPublished = StoreCounters;

/** What a node says about itself; `self()` is called on every heartbeat so free space stays fresh. */
export interface NodeRecordInput {
  id: string;
  /** "host:port" peers and gateways dial. */
  addr: string;
  zone: string;
  capacityBytes: number;
  freeBytes: number;
  version: string;
  /** Wall-clock ms when the node process started. */
  startedAt: number;
  /**
   * Refreshed on every beat like freeBytes. Absent from nodes that do not heal (unregistered, older
   * versions) and when a record's value is malformed: readers must cope without it.
   */
  heal?: HealCounters;
  /** Like heal: refreshed on every beat, absent from older nodes or when malformed. */
  store?: StoreCounters;
  /**
   * Requests this node serves beyond those every version does: "sync" (SYNC, anti-entropy
   * between nodes). Absent from older nodes: a peer must not send them what they do not know (an
   * unknown frame type closes the connection, and every request on it fails).
   */
  features?: string[];
}

/** The whole entry a node re-asserts in Redis on every heartbeat (JSON under `node:<id>`). */
export interface NodeRecord extends NodeRecordInput {
  /** Grows on every start of the node; see `chooseIncarnation`. */
  incarnation: number;
  /** Wall-clock ms of the node when it sent this heartbeat. */
  lastHeartbeat: number;
  /** TTL the node gives its heartbeat key, so readers can tell the key's age from its PTTL. */
  heartbeatTtlMs: number;
  /** The node's credential, base64; absent when the node has no identity. */
  credential?: string;
  /** The node's signature of every other field, base64 (record-signature.ts). */
  signature?: string;
}

export type NodeState = "live" | "expired";

export type NodeInfo = NodeRecordInput & {
  incarnation: number;
  lastHeartbeatAgeMs: number;
  /** "expired": still registered, but its heartbeat key is gone (dead, or cut off from Redis). */
  state: NodeState;
};

export interface MembershipEvents {
  /** A node became live: new, back from expired, or a new incarnation (after a `leave` of the old). */
  join: [NodeInfo];
  /** A live node expired, deregistered or was removed. */
  leave: [NodeInfo];
  /** The live set changed, or a live node's placement inputs (addr, zone, capacity, incarnation). */
  change: [];
}

/**
 * The registry as one process sees it, in memory. Kept up to date from notifications (hints only:
 * they are lost across failovers), a full resync every `resyncIntervalMs` and one after every
 * reconnect. While Redis is unreachable it keeps the last membership and says so (`stale`).
 */
export interface MembershipView extends EventEmitter<MembershipEvents> {
  /** Live nodes, sorted by id. */
  live(): NodeInfo[];
  /** Every registered node, live or expired, sorted by id. */
  all(): NodeInfo[];
  /** True while the last successful sync is too old (two resync periods) or Redis is not connected. */
  readonly stale: boolean;
  /** Milliseconds since the last successful sync. */
  readonly ageMs: number;
  /** Goes up with every "change" event: caches of the live set compare it instead of the set. */
  readonly version: number;
  /**
   * Entries read and ignored so far: unsigned or badly signed, claims out of bounds, or past
   * redis.maxMembers. Each is logged once.
   */
  readonly rejected: number;
  close(): Promise<void>;
}

export interface NodeMembership {
  readonly view: MembershipView;
  /** The incarnation this start registered with. */
  readonly incarnation: number;
  /** Stops heartbeating, deregisters at once (bounded wait) and closes the connections. */
  close(): Promise<void>;
}
