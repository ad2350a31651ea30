import type { HealStats } from "../../registry/index.ts";

/**
 * What healing did on this node since it started (under-replicated: as of the last round): the
 * shape the node publishes in its registry record (src/registry/types.ts documents each field).
 */
export type HealCounters = HealStats;

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
    expiredTombstones: 0,
    repairRounds: 0,
    scrubRounds: 0,
    gcRounds: 0,
  };
}
