import { toDfsError } from "../../errors.ts";
import type { HealCounters, TableRecord } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import { writeBatches, writeTo } from "../../tables/index.ts";
import type { TableNodeApi } from "../../transport/api.ts";
import { recordsOf } from "../sync/index.ts";
import type { TableStore } from "../tables/index.ts";
import type { Work } from "./differences.ts";
import type { Layout } from "./layout.ts";
import type { Members } from "./members.ts";
import { runLimited } from "./run-limited.ts";

export interface TableSyncDeps {
  tables: TableStore;
  nodes: TableNodeApi;
  self: string;
  replicas: number;
  counters: HealCounters;
  logger: Logger;
  signal: AbortSignal;
}

/** Peers pushed to at once. */
const PARALLEL_PEERS = 4;

/**
 * Pushes to each peer, with TABLE_WRITE, the records of ours its digests differ on (the peer
 * lacks them or holds another version): the peer keeps each only if it is newer than what it
 * holds (newest wins on apply), and its own round pushes its newer versions to us, so records
 * meet in both directions without either side reading the other's. Then hands the records of
 * partitions this node holds but does not own to every live owner. Those stay here too: they are
 * few (a membership change moves 1/n of the partitions), dropping them safely would need every
 * owner to confirm, and keeping them makes this node one more copy; each round pushes them again
 * (an owner answers "held" for what it has). A peer that fails is logged and tried next round.
 * Resolves with the differing records peers applied (were missing or older there), hand-offs not
 * counted.
 */
export async function syncTables(
  deps: TableSyncDeps,
  work: Pick<Work, "tableDifferences" | "tableHandoff">,
  layout: Layout,
  members: Members,
): Promise<number> {
  let applied = 0;
  const push = async (addr: string, records: readonly TableRecord[]): Promise<number> => {
    if (records.length === 0) return 0;
    deps.signal.throwIfAborted();
    try {
      let held = 0;
      await writeTo(deps.nodes, addr, writeBatches(records), () => held++);
      return records.length - held;
    } catch (err) {
      if (deps.signal.aborted) throw err;
      deps.logger.warn({ addr, err: toDfsError(err).message }, "sync: could not push table records");
      return 0;
    }
  };
  await runLimited(
    [...work.tableDifferences].map(([addr, partitions]) => async () => {
      const records: TableRecord[] = [];
      for (const [p, ids] of partitions) records.push(...recordsOf(deps.tables, p, ids));
      applied += await push(addr, records);
    }),
    PARALLEL_PEERS,
  );
  const handoff = new Map<string, TableRecord[]>();
  for (const p of work.tableHandoff) {
    const owners = layout.placement
      .partitionOrder(p)
      .slice(0, deps.replicas)
      .filter((n) => n.addr !== deps.self && members.live.has(n.addr));
    if (owners.length === 0) continue;
    const records = [...deps.tables.partitionRecords(p)];
    for (const { addr } of owners) {
      const list = handoff.get(addr) ?? [];
      handoff.set(addr, list);
      list.push(...records);
    }
  }
  await runLimited(
    [...handoff].map(([addr, records]) => async () => {
      await push(addr, records);
    }),
    PARALLEL_PEERS,
  );
  return applied;
}
