import { toDfsError } from "../../errors.ts";
import { type HealCounters, type ObjectKind, parseManifestHeader } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import { Placement } from "../../placement/index.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { TokenBucket } from "../rate-limit.ts";
import type { ObjectStore } from "../store/index.ts";
import type { Members } from "./members.ts";
import { checksumOf, isChunk } from "./objects.ts";

export interface ScrubDeps {
  store: ObjectStore;
  nodes: NodeApi;
  self: string;
  bucket: TokenBucket;
  counters: HealCounters;
  logger: Logger;
  signal: AbortSignal;
}

const PAGE = 500;

/**
 * One scrub pass: every stored object is re-hashed against its id (a chunk) or its checksum (a
 * manifest), rate-limited. A corrupt copy is quarantined, then fetched again from another node.
 */
export async function scrubRound(deps: ScrubDeps, members: () => Members): Promise<void> {
  for (const kind of ["manifest", "chunk"] as const) {
    let after: string | undefined;
    do {
      deps.signal.throwIfAborted();
      const page = await deps.store.list(kind, after, PAGE);
      for (const id of page.ids) await scrubOne(deps, members, kind, id);
      after = page.next;
    } while (after !== undefined);
  }
}

/** Verifies one object; true when it was corrupt (and quarantined). */
export async function scrubOne(
  deps: ScrubDeps,
  members: () => Members,
  kind: ObjectKind,
  id: string,
): Promise<boolean> {
  const size = await deps.store.size(kind, id);
  if (size === undefined) return false;
  await deps.bucket.take(size, deps.signal);
  let good: boolean;
  try {
    good = await deps.store.verify(kind, id);
  } catch (err) {
    deps.logger.warn({ kind, id, err: toDfsError(err).message }, "scrub: verify failed");
    return false;
  }
  deps.counters.scrubbed++;
  if (good) return false;
  if (!(await deps.store.quarantine(kind, id))) return false;
  deps.counters.quarantined++;
  deps.logger.warn({ kind, id }, "scrub: corrupt copy quarantined");
  await restore(deps, members(), kind, id);
  return true;
}

/** Fetches a good copy from another live node, in placement order, and stores it here. */
async function restore(deps: ScrubDeps, members: Members, kind: ObjectKind, id: string): Promise<void> {
  const order = new Placement(members.nodes).order(id).map((n) => n.addr);
  for (const addr of order) {
    if (addr === deps.self || !members.live.has(addr)) continue;
    try {
      const data = await deps.nodes.getBuffer(addr, id, { kind, signal: deps.signal });
      const ok = kind === "chunk" ? isChunk(id, data) : parseManifestHeader(data) !== undefined;
      if (!ok) continue;
      await deps.bucket.take(data.length, deps.signal);
      await deps.nodes.put(deps.self, id, data, data.length, { kind, checksum: checksumOf(kind, data) });
      deps.counters.restored++;
      deps.logger.info({ kind, id, from: addr }, "scrub: corrupt copy replaced");
      return;
    } catch (err) {
      if (deps.signal.aborted) throw err;
    }
  }
  // No other copy here: repair copies it back from wherever one is (if anywhere).
  deps.logger.warn({ kind, id }, "scrub: no healthy replica found to replace a corrupt copy");
}
