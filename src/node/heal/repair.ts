import type { ObjectSignatures } from "../../credentials/index.ts";
import { toDfsError } from "../../errors.ts";
import type { HealCounters, ObjectKind } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import type { Placement } from "../../placement/index.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { TokenBucket } from "../rate-limit.ts";
import type { ObjectStore } from "../store/index.ts";
import type { ObjectDigests } from "../sync/index.ts";
import type { TableStore } from "../tables/index.ts";
import { findWork } from "./differences.ts";
import type { Layouts } from "./layout.ts";
import type { Members } from "./members.ts";
import { checksumOf, localCopy, readLocal, remoteCopy } from "./objects.ts";
import { hasWithin } from "./peer-answer.ts";
import { planObject } from "./plan.ts";
import { runLimited } from "./run-limited.ts";
import { syncTables } from "./table-sync.ts";
import { type Copy, currentBeside } from "./versions.ts";

/** What applying the plan to objects needs. */
export interface PlanDeps {
  store: ObjectStore;
  nodes: NodeApi;
  self: string;
  replicas: number;
  bucket: TokenBucket;
  counters: HealCounters;
  logger: Logger;
  signal: AbortSignal;
  /** Chunks garbage collection found unreferenced: not copied (see GarbageCollector.unreferenced). */
  skipChunk?: (id: string) => boolean;
  /** A tombstone older than this is not copied to an owner that holds nothing (gc.ts drops it). */
  tombstoneGraceMs: number;
  /** Checks gateways' signatures on manifest objects; absent without a cluster authority. */
  signatures?: ObjectSignatures | undefined;
}

export interface RepairDeps extends PlanDeps {
  /** What the store holds, as digests: what is compared with the peers. */
  digests: ObjectDigests;
  /** Ownership per membership, kept from round to round. */
  layouts: Layouts;
  /** The node's table records: what differs from a peer is pushed to it (table-sync.ts). */
  tables: TableStore;
}

const PAGE = 500;
/** Copies in flight at once; the token bucket bounds the bytes. */
const PARALLEL = 4;
/** Manifest header reads in flight at once (a few dozen bytes each). */
const PARALLEL_ASKS = 16;

/**
 * One repair and rebalance round (plan.ts has the rules). What to look at comes from the digests
 * (differences.ts): the objects this node holds that differ from a peer owning them too, and
 * those of partitions it holds but no longer owns; an object in sync is not looked at. Manifests
 * first (small, and a file is unreadable without one), then chunks, a page at a time with one
 * batched `has` per owner. Resolves with the number of under-replicated objects seen.
 */
export async function repairRound(deps: RepairDeps, members: Members): Promise<number> {
  if (!members.live.has(deps.self)) return 0; // not live ourselves: our view of placement is not the cluster's
  const layout = deps.layouts.of(members, deps.self, deps.replicas);
  const work = await findWork(deps, layout);
  const c = deps.counters;
  c.syncRequests += work.requests;
  c.syncBytes += work.bytes;
  c.syncDifferences += work.differences;
  let under = work.waiting;
  for (const kind of ["manifest", "chunk"] as const) {
    const before = c.repaired;
    under += await repairIds(deps, members, layout.placement, kind, [...work.differing[kind]].sort());
    c.syncRepaired += c.repaired - before;
    under += await repairIds(deps, members, layout.placement, kind, work.handoff[kind]);
  }
  c.syncRepaired += await syncTables(deps, work, layout, members);
  c.syncRounds++;
  return under;
}

/**
 * Applies the plan to the given ids this node holds, a page at a time. Resolves with the number
 * of under-replicated objects seen. (Given every id held, this is a walk of everything: what
 * bench/sync-round.ts measures sync against.)
 */
export async function repairIds(
  deps: PlanDeps,
  members: Members,
  placement: Placement,
  kind: ObjectKind,
  ids: readonly string[],
): Promise<number> {
  let under = 0;
  for (let i = 0; i < ids.length; i += PAGE) {
    deps.signal.throwIfAborted();
    under += await repairPage(deps, members, placement, kind, ids.slice(i, i + PAGE));
  }
  return under;
}

async function repairPage(
  deps: PlanDeps,
  members: Members,
  placement: Placement,
  kind: ObjectKind,
  ids: readonly string[],
): Promise<number> {
  const orders = new Map(ids.map((id) => [id, placement.order(id).map((n) => n.addr)]));
  const ask = new Map<string, string[]>(); // live owner -> ids to ask about
  for (const [id, order] of orders) {
    for (const addr of order.slice(0, deps.replicas)) {
      if (addr === deps.self || !members.live.has(addr)) continue;
      const list = ask.get(addr);
      if (list) list.push(id);
      else ask.set(addr, [id]);
    }
  }
  const held = new Map<string, Set<string>>(); // id -> owners holding a copy
  const unreachable = new Set<string>();
  await Promise.all(
    [...ask].map(async ([addr, list]) => {
      try {
        const answers = await hasWithin(deps.nodes, addr, list, kind);
        list.forEach((id, i) => {
          if (!answers[i]) return;
          const set = held.get(id) ?? new Set<string>();
          set.add(addr);
          held.set(id, set);
        });
      } catch (err) {
        unreachable.add(addr);
        deps.logger.warn({ addr, err: toDfsError(err).message }, "repair: has failed");
      }
    }),
  );
  const currents = new Map<string, Set<string> | undefined>();
  /** Manifest ids whose copy here is a tombstone past its grace: it goes only where an older copy is. */
  const expired = new Set<string>();
  /** Our copy of each manifest: an unsigned one goes only where nothing is held. */
  const ours = new Map<string, Copy>();
  const now = Date.now();
  await runLimited(
    ids.map((id) => async () => {
      const holders = held.get(id) ?? new Set<string>();
      if (kind === "chunk") return void currents.set(id, holders);
      const found = await currentManifests(deps, id, holders);
      currents.set(id, found?.current);
      const mine = found?.mine?.header;
      if (found?.mine) ours.set(id, found.mine);
      if (mine?.type === "tombstone" && now - mine.stamp > deps.tombstoneGraceMs) expired.add(id);
    }),
    PARALLEL_ASKS,
  );
  let under = 0;
  const work: (() => Promise<void>)[] = [];
  for (const [id, order] of orders) {
    const current = currents.get(id);
    if (current === undefined) continue; // gone meanwhile (dropped or collected)
    const plan = planObject({
      order,
      replicas: deps.replicas,
      self: deps.self,
      live: members.live,
      current,
      unreachable,
    });
    if (kind === "chunk" && deps.skipChunk?.(id)) continue;
    // An expired tombstone goes only where an older manifest must still be hidden: an owner
    // holding nothing needs nothing, and each owner's GC drops its own copy.
    let copyTo = expired.has(id) ? plan.copyTo.filter((addr) => held.get(id)?.has(addr)) : plan.copyTo;
    // A copy no gateway vouches for never replaces one: an unsigned copy (older than signing) only
    // goes to owners holding nothing, a badly signed one nowhere.
    const mine = copyTo.length > 0 ? ours.get(id)?.signing : undefined;
    if (mine === "unsigned") copyTo = copyTo.filter((addr) => !held.get(id)?.has(addr));
    if (mine === "bad") copyTo = [];
    if (plan.acts && plan.copies < deps.replicas && !expired.has(id)) under++;
    if (copyTo.length > 0) work.push(() => copy(deps, kind, id, copyTo));
    else if (plan.drop) work.push(() => drop(deps, kind, id));
  }
  await runLimited(work, PARALLEL);
  return under;
}

/**
 * Owners holding a current copy of a manifest next to ours (versions.ts: signed, and ours does not
 * win over it), and our copy's version. Undefined when we no longer hold it.
 */
async function currentManifests(
  deps: PlanDeps,
  id: string,
  holders: ReadonlySet<string>,
): Promise<{ current: Set<string>; mine: Copy | undefined } | undefined> {
  let mine: Copy | undefined;
  try {
    mine = await localCopy(deps.store, id, deps.signatures);
  } catch {
    return undefined;
  }
  const current = new Set<string>();
  await Promise.all(
    [...holders].map(async (addr) => {
      const theirs = await remoteCopy(deps.nodes, addr, id, deps.signatures).catch(() => undefined);
      if (!mine || currentBeside(mine, theirs)) current.add(addr);
    }),
  );
  return { current, mine };
}

async function copy(deps: PlanDeps, kind: ObjectKind, id: string, targets: string[]): Promise<void> {
  try {
    const data = await readLocal(deps.store, kind, id);
    await deps.bucket.take(data.length * targets.length, deps.signal);
    const [head, ...forward] = targets as [string, ...string[]];
    const result = await deps.nodes.put(head, id, data, data.length, {
      kind,
      checksum: checksumOf(kind, data),
      forward,
      signal: deps.signal,
    });
    deps.counters.repaired += result.stored.length;
    deps.counters.repairedBytes += result.stored.length * data.length;
    if (result.failed.length > 0)
      deps.logger.warn({ kind, id, failed: result.failed }, "repair: copies failed");
  } catch (err) {
    if (deps.signal.aborted) throw err;
    deps.logger.warn({ kind, id, targets, err: toDfsError(err).message }, "repair: copy failed");
  }
}

async function drop(deps: PlanDeps, kind: ObjectKind, id: string): Promise<void> {
  if (await deps.store.delete(kind, id)) deps.counters.dropped++;
}
