import { createHash } from "node:crypto";
import { access, writeFile } from "node:fs/promises";
import { CHUNK_REFS_TABLE, manifestRef, parseManifestHeader } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import type { RecordWrite, TableClient } from "../../tables/index.ts";
import type { ObjectStore } from "../store/index.ts";
import { readLocal } from "./objects.ts";

export interface RefsUpgradeDeps {
  store: ObjectStore;
  tableClient: Pick<TableClient, "write">;
  /** The marker file: present once every manifest this node held at the time has its references. */
  markerPath: string;
  logger: Logger;
  signal: AbortSignal;
}

/** `<data>/refs-built`: the marker file's name. */
export const REFS_MARKER = "refs-built";

const PAGE = 1000;
/** References written per quorum call. */
const BATCH = 512;

/**
 * Builds the chunk references of a data folder written before they existed: for every manifest
 * (not tombstone) this node holds, each of its chunks gets a reference from that manifest version
 * (table chunk_refs, on the chunk's owners, at W). Every holder of a manifest does it, so a
 * manifest's references are written as long as one of its copies is on an upgraded node. Runs
 * before the first garbage collection until it succeeded once (the marker file); until then, and
 * for chunks whose manifests are on nodes not yet upgraded, GC keeps chunks without records.
 * Returns whether the references are built.
 */
export async function buildReferences(d: RefsUpgradeDeps): Promise<boolean> {
  if (await referencesBuilt(d.markerPath)) return true;
  let manifests = 0;
  let references = 0;
  const pending: RecordWrite[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending.splice(0, pending.length);
    await d.tableClient.write(batch);
    references += batch.length;
  };
  try {
    let after: string | undefined;
    do {
      d.signal.throwIfAborted();
      const page = await d.store.list("manifest", after, PAGE);
      for (const id of page.ids) {
        const whole = await readLocal(d.store, "manifest", id).catch(() => undefined);
        const header = whole && parseManifestHeader(whole);
        if (!whole || !header || "need" in header || header.type !== "manifest") continue;
        const version = createHash("sha256").update(whole).digest("hex");
        manifests++;
        for (const chunk of new Set(header.chunkIds)) {
          pending.push({
            table: CHUNK_REFS_TABLE,
            partitionKey: Buffer.from(chunk, "hex"),
            ...manifestRef(version, id),
          });
          if (pending.length >= BATCH) await flush();
        }
      }
      after = page.next;
    } while (after !== undefined);
    await flush();
  } catch (err) {
    if (d.signal.aborted) throw err;
    d.logger.warn(
      { err: (err as Error).message, manifests, references },
      "refs: upgrade incomplete; retried next round",
    );
    return false;
  }
  await writeFile(d.markerPath, `${Date.now()}\n`);
  d.logger.info({ manifests, references }, "refs: references built for the manifests this node holds");
  return true;
}

/** Whether the references were built once (the marker file is there). */
export async function referencesBuilt(markerPath: string): Promise<boolean> {
  try {
    await access(markerPath);
    return true;
  } catch {
    return false;
  }
}
