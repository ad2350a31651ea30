import type { EventEmitter } from "node:events";

/**
 * Self-healing counters a node publishes with its record (see src/node/heal): totals since the node
 * process started, except `underReplicated` (as of its last repair round). Plain numbers, so the
 * registry needs nothing from the node.
 */
export interface HealStats {
  /** Objects this node acts for that fewer than R owners hold. */
  underReplicated: number;
  /** Copies repair stored on other nodes, and their bytes. */
  repaired: number;
  repairedBytes: number;
  /** Copies dropped once the owners confirmed theirs. */
  dropped: number;
  scrubbed: number;
  quarantined: number;
  /** Corrupt copies replaced from a healthy replica. */
  restored: number;
  /** Unreferenced chunks garbage-collected, and their bytes. */
  collected: number;
  collectedBytes: number;
  /** Tombstones of deleted files dropped after tombstoneGraceMs, when nothing older was left to hide. */
  expiredTombstones: number;
  repairRounds: number;
  scrubRounds: number;
  gcRounds: number;
}

/**
 * A node's store, published with its record: its cache of small objects (totals since the node
 * started) and its pack files (as they are now, with totals of what was appended).
 */
export interface StoreStatsPublished {
  /** Reads of small objects answered from memory, and those that went to the disk. */
  cacheHits: number;
  cacheMisses: number;
  /** Pack files, the bytes in them, and the bytes of the records still live. */
  packFiles: number;
  packBytes: number;
  packLiveBytes: number;
  /** Batches appended (one writev and one fdatasync each) and the records they carried. */
  packBatches: number;
  packRecords: number;
  /** Sealed packs rewritten and deleted. */
  packCompactions: number;
}

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
  heal?: HealStats;
  /** Like heal: refreshed on every beat, absent from older nodes or when malformed. */
  store?: StoreStatsPublished;
}

/** The whole entry a node re-asserts in Redis on every heartbeat (JSON under `node:<id>`). */
export interface NodeRecord extends NodeRecordInput {
  /** Grows on every start of the node; see `chooseIncarnation`. */
  incarnation: number;
  /** Wall-clock ms of the node when it sent this heartbeat. */
  lastHeartbeat: number;
  /** TTL the node gives its heartbeat key, so readers can tell the key's age from its PTTL. */
  heartbeatTtlMs: number;
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
  close(): Promise<void>;
}

export interface NodeMembership {
  readonly view: MembershipView;
  /** The incarnation this start registered with. */
  readonly incarnation: number;
  /** Stops heartbeating, deregisters at once (bounded wait) and closes the connections. */
  close(): Promise<void>;
}
