/**
 * What a node reports about itself: its store's usage (answered to STAT; its space also goes into
 * the registry record), and the counters it publishes with every heartbeat (the registry's
 * NodeRecord carries them; gateways export them as metrics, `dfs status` prints them). Plain
 * numbers, so every layer may read them and none needs the node.
 */

/** What a node's store holds and has room for, as it is now. */
export interface StoreUsage {
  /** Bytes offered to the cluster (the disk's size unless configured), and those still free. */
  capacityBytes: number;
  freeBytes: number;
  chunkCount: number;
  manifestCount: number;
  /** Bytes of the objects held. */
  storedBytes: number;
}

/**
 * What self-healing did (src/node/heal): totals since the node process started, except
 * `underReplicated` (as of its last repair round).
 */
export interface HealCounters {
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
  /** Repair rounds that compared digests with the peers (every round on a live node). */
  syncRounds: number;
  /** Objects and table records found differing between this node and a peer owning them too, on either side. */
  syncDifferences: number;
  /**
   * Copies repair stored for objects the comparison found differing, and table records a peer
   * applied from the push (not hand-offs of moved partitions).
   */
  syncRepaired: number;
  /** SYNC requests this node sent its peers, and their bytes on the link (both directions). */
  syncRequests: number;
  syncBytes: number;
}

/**
 * A node's store (src/node/store): its cache of small objects (totals since the node started) and
 * its pack files (as they are now, with totals of what was appended).
 */
export interface StoreCounters {
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
