import { hash } from "node:crypto";
import type { ObjectKind } from "../../formats/index.ts";
import type { StoreChanges } from "../store/index.ts";
import { ElementIndex } from "./element-index.ts";

/** Trees as SYNC names them (docs/protocol.md): the object kinds', then the table records'. */
export const TREES = { chunk: 0, manifest: 1, tables: 2 } as const satisfies Record<
  ObjectKind | "tables",
  number
>;

/**
 * The digests of what this node's store holds: one tree per object kind (element-index.ts,
 * digest-tree.ts), kept up to date by the store's change hook, from the store's open on (its
 * packs' recovery scan and its walk of files report every object found), so nothing is rebuilt per
 * round.
 *
 * An object's element is (its partition, its element hash):
 * - a chunk's hash is its id, the SHA-256 of its bytes: equal ids are equal bytes;
 * - a manifest's is SHA-256(id ‖ checksum), the checksum being the SHA-256 of the stored bytes, so
 *   two owners holding different versions of one manifest differ, and the same bytes under two
 *   ids are two elements (the sums see hashes, not ids).
 */
export class ObjectDigests implements StoreChanges {
  readonly chunks = new ElementIndex({ hashIsId: true });
  readonly manifests = new ElementIndex({ hashIsId: false });
  /** The node's table records (table-digests.ts), filled and kept by trackTables once the tables open. */
  readonly tables = new ElementIndex({ hashIsId: false });
  readonly #pair = Buffer.alloc(64);

  /** The index behind a tree number, or undefined for a tree this node does not keep. */
  index(tree: number): ElementIndex | undefined {
    if (tree === TREES.tables) return this.tables;
    return tree === TREES.chunk ? this.chunks : tree === TREES.manifest ? this.manifests : undefined;
  }

  of(kind: ObjectKind): ElementIndex {
    return kind === "chunk" ? this.chunks : this.manifests;
  }

  held(kind: ObjectKind, id: string, checksum: string): void {
    if (kind === "chunk") return this.chunks.set(id);
    this.manifests.set(id, manifestElement(id, checksum, this.#pair));
  }

  gone(kind: ObjectKind, id: string): void {
    this.of(kind).delete(id);
  }
}

/** SHA-256(id ‖ checksum), both raw. `pair`: 64 bytes of scratch. */
export function manifestElement(id: string, checksum: string, pair: Buffer = Buffer.alloc(64)): Buffer {
  pair.write(id, 0, 32, "hex");
  pair.write(checksum, 32, 32, "hex");
  return hash("sha256", pair, "buffer");
}
