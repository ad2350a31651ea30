import { toDfsError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { ChunkStore } from "../store/index.ts";
import type { HealCounters } from "./counters.ts";
import type { ManifestHeader } from "./manifest-header.ts";
import type { Members } from "./members.ts";
import { localHeader, remoteHeader } from "./objects.ts";

export interface GcDeps {
  store: ChunkStore;
  nodes: NodeApi;
  self: string;
  gcGraceMs: number;
  counters: HealCounters;
  logger: Logger;
  signal: AbortSignal;
}

const PAGE = 1000;

/**
 * Garbage collection of this node's chunks. A chunk is collected when no manifest copy on any
 * live node references it (tombstones reference nothing), and it has been seen unreferenced for
 * longer than gcGraceMs across rounds, and its file is older than that too: an upload writes its
 * chunks before its manifest, and finishes well within the grace. First-seen times are kept in memory only: a restart delays
 * collection, never hastens it. Collection is skipped when the view is stale, a member is within
 * its grace (it may hold the only manifest of a file) or some live node could not be asked.
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
    const referenced = await this.#referenced([...members.live]);
    if (referenced === undefined) return;
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
        if (now - ((await d.store.writtenAt("chunk", id)) ?? now) <= d.gcGraceMs) continue;
        const size = await d.store.size("chunk", id);
        if (size !== undefined && (await d.store.delete("chunk", id))) {
          d.counters.collected++;
          d.counters.collectedBytes += size;
        }
        this.#unreferencedSince.delete(id);
      }
      after = page.next;
    } while (after !== undefined);
    // Referenced again, or gone: forget.
    for (const id of this.#unreferencedSince.keys()) if (!seen.has(id)) this.#unreferencedSince.delete(id);
  }

  /** Chunk ids referenced by a manifest (not a tombstone) on any live node; undefined if one failed. */
  async #referenced(live: readonly string[]): Promise<Set<string> | undefined> {
    const d = this.#deps;
    const out = new Set<string>();
    const add = (h: ManifestHeader | undefined) => {
      if (h?.type === "manifest") for (const id of h.chunkIds) out.add(id);
    };
    try {
      for (const addr of live) {
        let after: string | undefined;
        do {
          d.signal.throwIfAborted();
          const page =
            addr === d.self
              ? await d.store.list("manifest", after, PAGE)
              : await d.nodes.list(addr, { kind: "manifest", after, limit: PAGE });
          for (const id of page.ids) {
            // Our own from disk; a peer's over the wire, header bytes only.
            const h = addr === d.self ? await ownHeader(d, id) : await peerHeader(d, addr, id);
            if (h === "failed") {
              d.logger.warn({ addr, id }, "gc: a manifest's header could not be read; skipping this round");
              return undefined;
            }
            add(h);
          }
          after = page.next;
        } while (after !== undefined);
      }
    } catch (err) {
      if (d.signal.aborted) throw err;
      d.logger.warn({ err: toDfsError(err).message }, "gc: could not read every manifest; skipping");
      return undefined;
    }
    return out;
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
