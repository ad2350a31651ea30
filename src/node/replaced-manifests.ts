import { createHash } from "node:crypto";
import { toDfsError } from "../errors.ts";
import { CHUNK_REFS_TABLE, manifestRefKey, parseManifestHeader } from "../formats/index.ts";
import type { Logger } from "../logger.ts";
import type { TableClient } from "../tables/index.ts";
import { readLocal } from "./heal/objects.ts";
import type { ObjectStore } from "./store/index.ts";

/** A manifest version this node holds: the SHA-256 of its bytes and the chunks it references. */
export interface HeldVersion {
  version: string;
  chunkIds: readonly string[];
}

/**
 * A manifest version that loses its place on a node (a tombstone or a newer upload replaces it)
 * retracts its chunk references: every owner that replaces it writes the retractions (at W, on the
 * chunks' owners) in the background. Gateways retract what they delete; this covers the copies
 * they could not see (a node away during the delete, the loser of two racing uploads).
 */
export class ReplacedManifests {
  readonly #store: ObjectStore;
  readonly #tables: Pick<TableClient, "write">;
  readonly #logger: Logger;

  constructor(store: ObjectStore, tables: Pick<TableClient, "write">, logger: Logger) {
    this.#store = store;
    this.#tables = tables;
    this.#logger = logger;
  }

  /** The manifest version held under `id` before a PUT replaces it; undefined for none or a tombstone. */
  async held(id: string): Promise<HeldVersion | undefined> {
    if (!this.#store.holdsNow("manifest", id)) return undefined;
    const whole = await readLocal(this.#store, "manifest", id).catch(() => undefined);
    const header = whole && parseManifestHeader(whole);
    if (!whole || !header || "need" in header || header.type !== "manifest") return undefined;
    return { version: createHash("sha256").update(whole).digest("hex"), chunkIds: header.chunkIds };
  }

  /** `held` was replaced by the object whose SHA-256 is `by`: its references go, in the background. */
  replaced(held: HeldVersion, by: string | undefined): void {
    if (held.version === by || held.chunkIds.length === 0) return;
    const retractions = [...new Set(held.chunkIds)].map((chunk) => ({
      table: CHUNK_REFS_TABLE,
      partitionKey: Buffer.from(chunk, "hex"),
      sortKey: manifestRefKey(held.version),
      deleted: true,
    }));
    this.#tables.write(retractions).catch((err: unknown) => {
      this.#logger.warn(
        { version: held.version, code: toDfsError(err).code },
        "a replaced manifest's chunk references could not be retracted: its chunks stay",
      );
    });
  }
}
