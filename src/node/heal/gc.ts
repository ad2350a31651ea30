import { toDfsError } from "../../errors.ts";
import type { HealCounters, ManifestHeader } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { ObjectStore } from "../store/index.ts";
import type { Members } from "./members.ts";
import { localHeader, remoteHeader } from "./objects.ts";
import { ExpiredTombstones } from "./tombstones.ts";

export interface GcDeps {
  store: ObjectStore;
  nodes: NodeApi;
  self: string;
  gcGraceMs: number;
  tombstoneGraceMs: number;
  counters: HealCounters;
  logger: Logger;
  signal: AbortSignal;
}

const PAGE = 1000;

/** What a round learnt from every live node's manifests. */
interface Survey {
  /** Chunk ids some manifest (not a tombstone) references. */
  referenced: Set<string>;
  /** This node's tombstones that may go: id -> stamp. */
  expired: ReadonlyMap<string, number>;
}

/**
 * Garbage collection on this node: chunks nothing references any more, and tombstones that have
 * nothing left to hide.
 *
 * A chunk is collected when no manifest copy on any live node references it (tombstones reference
 * nothing), and it has been seen unreferenced for longer than gcGraceMs across rounds, and its file
 * is older than that too: an upload writes its chunks before its manifest, and finishes well
 * within the grace. First-seen times are kept in memory only: a restart delays collection, never
 * hastens it.
 *
 * A tombstone (a deleted file's manifest object) hides the older copies of the file's manifest
 * that a node away during the delete, or a write that lost the race, may still hold. It is dropped
 * once its stamp is older than tombstoneGraceMs and no live node holds a manifest under its id
 * with a stamp at or below its own: every node then holds nothing, a tombstone, or a newer upload
 * of the same bytes. Repair leaves such a tombstone where it is (it does not copy it to an owner
 * that lacks it), so each owner drops its own. A node away for longer than the grace could still
 * bring a deleted file back: it must come back empty (as Cassandra asks after gc_grace_seconds).
 *
 * Nothing is done when the view is stale, a member is within its grace (it may hold the only
 * manifest of a file) or some live node could not be asked.
 */
export class GarbageCollector {
  readonly #deps: GcDeps;
  readonly #unreferencedSince = new Map<string, number>();

  constructor(deps: GcDeps) {
    this.#deps = deps;
  }

  /**
   * True when the last round found this chunk referenced by no manifest: repair does not copy such
   * a chunk, or it would hand it back to the nodes collecting it, round after round.
   */
  unreferenced(id: string): boolean {
    return this.#unreferencedSince.has(id);
  }

  async round(members: Members, stale: boolean): Promise<void> {
    const d = this.#deps;
    if (stale || members.nodes.some((n) => !members.live.has(n.addr))) return;
    const started = Date.now();
    const survey = await this.#survey([...members.live]);
    if (survey === undefined) return;
    await this.#collectChunks(survey.referenced);
    for (const [id, stamp] of survey.expired) {
      d.signal.throwIfAborted();
      // Written again since the survey began (a newer manifest, or the tombstone repaired back in):
      // the survey did not see that copy, so it stays.
      if (await d.store.delete("manifest", id, { writtenBy: started })) {
        d.counters.expiredTombstones++;
        d.logger.info({ id, stamp }, "gc: tombstone expired");
      }
    }
  }

  async #collectChunks(referenced: ReadonlySet<string>): Promise<void> {
    const d = this.#deps;
    const now = Date.now();
    const seen = new Set<string>();
    let after: string | undefined;
    do {
      d.signal.throwIfAborted();
      const page = await d.store.list("chunk", after, PAGE);
      for (const id of page.ids) {
        if (referenced.has(id)) continue;
        seen.add(id);
        const since = this.#unreferencedSince.get(id) ?? now;
        this.#unreferencedSince.set(id, since);
        if (now - since <= d.gcGraceMs) continue;
        // Stored again recently (an upload of a file that reuses it, in flight): keep it. A PUT of
        // a chunk that exists writes it again, so its written-at time is that upload's.
        const size = await d.store.size("chunk", id);
        if (size !== undefined && (await d.store.delete("chunk", id, { writtenBy: now - d.gcGraceMs }))) {
          d.counters.collected++;
          d.counters.collectedBytes += size;
          this.#unreferencedSince.delete(id);
        }
      }
      after = page.next;
    } while (after !== undefined);
    // Referenced again, or gone: forget.
    for (const id of this.#unreferencedSince.keys()) if (!seen.has(id)) this.#unreferencedSince.delete(id);
  }

  /**
   * Every live node's manifest headers, this node's first: the chunks they reference, and which of
   * this node's expired tombstones no node holds an older manifest under. Undefined if one failed.
   */
  async #survey(live: readonly string[]): Promise<Survey | undefined> {
    const d = this.#deps;
    const referenced = new Set<string>();
    const tombstones = new ExpiredTombstones(d.tombstoneGraceMs, Date.now());
    const add = (id: string, h: ManifestHeader | undefined, own: boolean) => {
      if (h === undefined) return;
      if (h.type === "manifest") for (const chunk of h.chunkIds) referenced.add(chunk);
      if (own) tombstones.own(id, h);
      else tombstones.seen(id, h);
    };
    try {
      for (const addr of [d.self, ...live.filter((a) => a !== d.self)]) {
        const own = addr === d.self;
        let after: string | undefined;
        do {
          d.signal.throwIfAborted();
          const page = own
            ? await d.store.list("manifest", after, PAGE)
            : await d.nodes.list(addr, { kind: "manifest", after, limit: PAGE });
          for (const id of page.ids) {
            // Our own from disk; a peer's over the wire, header bytes only.
            const h = own ? await ownHeader(d, id) : await peerHeader(d, addr, id);
            if (h === "failed") {
              d.logger.warn({ addr, id }, "gc: a manifest's header could not be read; skipping this round");
              return undefined;
            }
            add(id, h, own);
          }
          after = page.next;
        } while (after !== undefined);
      }
    } catch (err) {
      if (d.signal.aborted) throw err;
      d.logger.warn({ err: toDfsError(err).message }, "gc: could not read every manifest; skipping");
      return undefined;
    }
    return { referenced, expired: tombstones.expired };
  }
}

/**
 * A peer's manifest header. A manifest gone meanwhile is fine; one that cannot be asked or read
 * (another format, a corrupt header) stops the round: what it references is unknown.
 */
async function peerHeader(
  d: GcDeps,
  addr: string,
  id: string,
): Promise<ManifestHeader | undefined | "failed"> {
  try {
    return (await remoteHeader(d.nodes, addr, id)) ?? "failed";
  } catch (err) {
    return toDfsError(err).code === "DFS_ERR_NOT_FOUND" ? undefined : "failed";
  }
}

async function ownHeader(d: GcDeps, id: string): Promise<ManifestHeader | undefined | "failed"> {
  try {
    return (await localHeader(d.store, id)) ?? "failed";
  } catch (err) {
    return toDfsError(err).code === "DFS_ERR_NOT_FOUND" ? undefined : "failed";
  }
}
