/** What healing did on this node since it started (under-replicated: as of the last round). */
export interface HealCounters {
  /** Objects of which this node is the acting holder and fewer than R owners hold a copy. */
  underReplicated: number;
  /** Copies stored on other nodes by repair and rebalance. */
  repaired: number;
  repairedBytes: number;
  /** Copies this node dropped because the owners confirmed theirs. */
  dropped: number;
  scrubbed: number;
  quarantined: number;
  /** Corrupt copies replaced from a healthy replica. */
  restored: number;
  collected: number;
  collectedBytes: number;
  repairRounds: number;
  scrubRounds: number;
  gcRounds: number;
}

export function newCounters(): HealCounters {
  return {
    underReplicated: 0,
    repaired: 0,
    repairedBytes: 0,
    dropped: 0,
    scrubbed: 0,
    quarantined: 0,
    restored: 0,
    collected: 0,
    collectedBytes: 0,
    repairRounds: 0,
    scrubRounds: 0,
    gcRounds: 0,
  };
}
