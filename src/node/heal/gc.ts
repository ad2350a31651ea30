import { toDfsError } from "../../errors.ts";
import { CHUNK_REFS_TABLE, chunkFate, type HealCounters, type TableRecord } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { ObjectStore } from "../store/index.ts";
import type { TableStore } from "../tables/index.ts";
import type { Members } from "./members.ts";
import { localHeader, remoteHeader } from "./objects.ts";
import { ExpiredTombstones } from "./tombstones.ts";

export interface GcDeps {
  store: ObjectStore;
  tables: TableStore;
  nodes: NodeApi;
  self: string;
  gcGraceMs: number;
  tombstoneGraceMs: number;
  counters: HealCounters;
  logger: Logger;
  signal: AbortSignal;
}

const PAGE = 1000;

/**
 * Garbage collection on this node, from its own tables: chunks nothing references any more, and
 * tombstones that have nothing left to hide.
 *
 * A chunk is collected when its chunk_refs records on this node (the references of every manifest
 * version that uses it, and the holds of uploads writing it; src/formats/chunk-refs.ts) are all
 * retracted or lapsed, the last of them longer ago than gcGraceMs, and its file was written longer
 * ago than that too (checked under the chunk's lock as it is deleted: an upload storing it again
 * makes it young). A chunk without any record is kept: it was written before references existed
 * and the upgrade (refs-upgrade.ts) has not built its references yet. Chunks are collected only
 * while the view is fresh and every live node's record says "refs" (it has built the references of
 * the manifests it holds): during a rolling upgrade, a manifest held only by older nodes has no
 * references yet. No other node is asked: a round costs what this node holds, whatever the
 * cluster's size.
 *
 * A tombstone (a deleted file's manifest object) hides the older copies of the file's manifest
 * that a node away during the delete, or a write that lost the race, may still hold. It is dropped
 * once its stamp is older than tombstoneGraceMs and no live node holds a manifest under its id
 * with a stamp at or below its own: every node then holds nothing, a tombstone, or a newer upload
 * of the same bytes. Only such expired tombstones are asked about, on every live node. Repair
 * leaves such a tombstone where it is, so each owner drops its own. A node away for longer than
 * the grace could still bring a deleted file back: it must come back empty.
 *
 * Tombstones wait while the view is stale or a member is within its grace (it may hold the only
 * manifest of a file) or some live node could not be asked.
 */
export class GarbageCollector {
  readonly #deps: GcDeps;
  #unreferenced = new Set<string>();

  constructor(deps: GcDeps) {
    this.#deps = deps;
  }

  /**
   * True when the last round found every reference to this chunk retracted or lapsed: repair does
   * not copy such a chunk, or it would hand it back to the nodes collecting it, round after round.
   */
  unreferenced(id: string): boolean {
    return this.#unreferenced.has(id);
  }

  async round(members: Members, stale: boolean): Promise<void> {
    const building = [...(members.withoutRefs ?? [])];
    if (stale || building.length > 0) {
      // A chunk's records are whole only once every holder of a manifest that uses it has built
      // that manifest's references (an older node writes none): until then, collect nothing.
      this.#deps.logger.info(
        { stale, withoutRefs: building },
        "gc: chunks wait until every live node has built its chunk references",
      );
    } else {
      await this.#collectChunks();
    }
    if (stale || members.nodes.some((n) => !members.live.has(n.addr))) return;
    await this.#expireTombstones([...members.live]);
  }

  async #collectChunks(): Promise<void> {
    const d = this.#deps;
    const now = Date.now();
    const unreferenced = new Set<string>();
    let after: string | undefined;
    do {
      d.signal.throwIfAborted();
      const page = await d.store.list("chunk", after, PAGE);
      for (const id of page.ids) {
        const fate = chunkFate(this.#refs(id), now, d.gcGraceMs);
        if (fate.keep && fate.reason !== "grace") continue;
        unreferenced.add(id);
        if (fate.keep) continue;
        const size = await d.store.size("chunk", id);
        if (size !== undefined && (await d.store.delete("chunk", id, { writtenBy: now - d.gcGraceMs }))) {
          d.counters.collected++;
          d.counters.collectedBytes += size;
          unreferenced.delete(id);
        }
      }
      after = page.next;
    } while (after !== undefined);
    this.#unreferenced = unreferenced;
  }

  /** Every chunk_refs record of a chunk on this node, retractions included. */
  #refs(id: string): TableRecord[] {
    const key = Buffer.from(id, "hex");
    const out: TableRecord[] = [];
    let next: Buffer | undefined;
    do {
      const page = this.#deps.tables.range(CHUNK_REFS_TABLE, key, {
        after: next,
        limit: PAGE,
        includeDeleted: true,
      });
      out.push(...page.records);
      next = page.next;
    } while (next !== undefined);
    return out;
  }

  /** Drops this node's expired tombstones that no live node holds an older manifest under. */
  async #expireTombstones(live: readonly string[]): Promise<void> {
    const d = this.#deps;
    const started = Date.now();
    const tombstones = new ExpiredTombstones(d.tombstoneGraceMs, started);
    try {
      let after: string | undefined;
      do {
        d.signal.throwIfAborted();
        const page = await d.store.list("manifest", after, PAGE);
        for (const id of page.ids) {
          const h = await localHeader(d.store, id).catch(() => undefined);
          if (h !== undefined) tombstones.own(id, h);
        }
        after = page.next;
      } while (after !== undefined);
      for (const id of [...tombstones.expired.keys()]) {
        for (const addr of live.filter((a) => a !== d.self)) {
          d.signal.throwIfAborted();
          const h = await remoteHeader(d.nodes, addr, id).catch((err: unknown) => {
            if (toDfsError(err).code === "DFS_ERR_NOT_FOUND") return undefined;
            throw err;
          });
          if (h !== undefined) tombstones.seen(id, h);
        }
      }
    } catch (err) {
      if (d.signal.aborted) throw err;
      d.logger.warn(
        { err: toDfsError(err).message },
        "gc: could not ask every node about expired tombstones",
      );
      return;
    }
    for (const [id, stamp] of tombstones.expired) {
      d.signal.throwIfAborted();
      // Written again since the round began (a newer manifest, or the tombstone repaired back in).
      if (await d.store.delete("manifest", id, { writtenBy: started })) {
        d.counters.expiredTombstones++;
        d.logger.info({ id, stamp }, "gc: tombstone expired");
      }
    }
  }
}
