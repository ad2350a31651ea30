import { toDfsError } from "../../errors.ts";
import type { ObjectKind } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import type { SyncRequest } from "../../protocol/index.ts";
import type { NodeApi, Synced } from "../../transport/api.ts";
import {
  compareTree,
  type ObjectDigests,
  PARTITIONS,
  type PartitionSet,
  remoteTree,
  TREES,
  type TreeDifferences,
} from "../sync/index.ts";
import type { Layout } from "./layout.ts";
import { answerWithin } from "./peer-answer.ts";
import { runLimited } from "./run-limited.ts";

export interface DifferenceDeps {
  digests: ObjectDigests;
  nodes: Pick<NodeApi, "sync">;
  logger: Logger;
  signal: AbortSignal;
}

/** What repair is to look at this round, found from digests instead of a walk of everything held. */
export interface Work {
  /** Ids this node holds that differ from a peer owning them too: absent there, or another version. */
  differing: Record<ObjectKind, Set<string>>;
  /** Ids of the partitions this node holds but does not own: to hand off to their owners. */
  handoff: Record<ObjectKind, string[]>;
  /** Elements that differ, counted on both sides (ours the peer lacks, theirs we lack). */
  differences: number;
  /** Objects this node acts for while an owner is within its grace, not counting `differing`. */
  waiting: number;
  /** SYNC requests sent and their bytes on the link. */
  requests: number;
  bytes: number;
  /** Live peers that could not be compared with (unreachable). */
  failed: Set<string>;
  /**
   * Per live peer, the table records this node holds that the peer lacks or holds another version
   * of, as element ids by partition (table-digests.ts): pushed to that peer (table-sync.ts).
   */
  tableDifferences: Map<string, Map<number, Set<string>>>;
  /** Partitions whose table records this node holds but does not own: handed to their owners. */
  tableHandoff: number[];
}

const KINDS: readonly ObjectKind[] = ["manifest", "chunk"];

/** SYNC requests to `addr` that fail when not answered within PEER_ANSWER_MS (peer-answer.ts). */
const syncWithin =
  (deps: DifferenceDeps, addr: string) =>
  <R extends SyncRequest>(request: R): Promise<Synced<R>> =>
    answerWithin(deps.nodes.sync(addr, request), `${addr}: no SYNC answer`);
/** Peers compared with at once (in a large cluster a node shares partitions with hundreds). */
const PARALLEL_PEERS = 16;

/**
 * Compares this node's digests with each live peer's over the partitions the two both own
 * (compare.ts: one request per tree when in sync), and lists the partitions it holds but does not
 * own. A peer whose record does not offer "sync" (an older version) is sent no SYNC: every id of
 * ours it shares is looked at, as the walk of everything held did. One that cannot be compared
 * with (unreachable) is left for the next round.
 */
/**
 * Compares the "tables" tree with one peer; what differs is kept by partition for the push. A
 * peer that keeps no such tree (a node from before table sync answers DFS_ERR_NOT_FOUND) is left
 * to read-repair and its own rounds' pushes, without failing the objects' comparison.
 */
async function compareTables(
  deps: DifferenceDeps,
  addr: string,
  shared: PartitionSet,
  cost: { requests: number; bytes: number },
  work: Work,
): Promise<void> {
  deps.signal.throwIfAborted();
  const remote = remoteTree(syncWithin(deps, addr), TREES.tables, cost);
  let found: TreeDifferences;
  try {
    found = await compareTree(deps.digests.tables, remote, shared);
  } catch (err) {
    if (toDfsError(err).code === "DFS_ERR_NOT_FOUND") return;
    throw err;
  }
  work.differences += found.ours.length + found.theirs;
  if (found.ours.length === 0) return;
  const byPartition = new Map<number, Set<string>>();
  for (const id of found.ours) {
    const p = Number.parseInt(id.slice(0, 4), 16);
    const ids = byPartition.get(p) ?? new Set<string>();
    byPartition.set(p, ids);
    ids.add(id);
  }
  work.tableDifferences.set(addr, byPartition);
}

export async function findWork(deps: DifferenceDeps, layout: Layout): Promise<Work> {
  const work: Work = {
    differing: { chunk: new Set(), manifest: new Set() },
    handoff: { chunk: [], manifest: [] },
    differences: 0,
    waiting: 0,
    requests: 0,
    bytes: 0,
    failed: new Set(),
    tableDifferences: new Map(),
    tableHandoff: [],
  };
  await runLimited(
    [...layout.shared].map(([addr, shared]) => async () => {
      const cost = { requests: 0, bytes: 0 };
      const everything = () => {
        for (const kind of KINDS) {
          const index = deps.digests.of(kind);
          for (const p of shared.list()) for (const id of index.ids(p)) work.differing[kind].add(id);
        }
      };
      // An older node would close the connection on a SYNC, failing every request on it.
      if (layout.withoutSync.has(addr)) return everything();
      try {
        for (const kind of KINDS) {
          deps.signal.throwIfAborted();
          const remote = remoteTree(syncWithin(deps, addr), TREES[kind], cost);
          const found = await compareTree(deps.digests.of(kind), remote, shared);
          for (const id of found.ours) work.differing[kind].add(id);
          work.differences += found.ours.length + found.theirs;
        }
        await compareTables(deps, addr, shared, cost, work);
      } catch (err) {
        if (deps.signal.aborted) throw err;
        work.failed.add(addr);
        deps.logger.warn({ addr, err: toDfsError(err).message }, "sync: could not compare with a peer");
      } finally {
        work.requests += cost.requests;
        work.bytes += cost.bytes;
      }
    }),
    PARALLEL_PEERS,
  );
  for (let p = 0; p < PARTITIONS; p++) {
    const chunks = deps.digests.chunks.tree.count(p);
    const manifests = deps.digests.manifests.tree.count(p);
    if (chunks + manifests === 0) continue;
    if (!layout.owned.has(p)) {
      for (const kind of KINDS) work.handoff[kind].push(...deps.digests.of(kind).ids(p));
    } else if (layout.waiting.has(p)) {
      work.waiting += chunks + manifests;
    }
  }
  for (let p = 0; p < PARTITIONS; p++) {
    if (deps.digests.tables.tree.count(p) > 0 && !layout.owned.has(p)) work.tableHandoff.push(p);
  }
  // Differing ids in those partitions are counted by the plan, once.
  for (const kind of KINDS) {
    for (const id of work.differing[kind]) {
      if (layout.waiting.has(Number.parseInt(id.slice(0, 4), 16))) work.waiting--;
    }
  }
  return work;
}
