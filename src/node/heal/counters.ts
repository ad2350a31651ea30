import type { HealCounters } from "../../formats/index.ts";

/** Counters of a node that has not healed anything yet (src/formats documents each field). */

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
    syncRounds: 0,
    syncDifferences: 0,
    syncRepaired: 0,
    syncRequests: 0,
    syncBytes: 0,
  };
}
