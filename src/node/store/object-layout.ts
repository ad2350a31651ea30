import type { ObjectKind } from "../../formats/index.ts";
import type { OpenedSource, ReadRange } from "./reader.ts";
import type { FileTarget } from "./writer.ts";

/** A write the object store is about to stream into a layout. */
export interface StageRequest {
  kind: ObjectKind;
  id: string;
  size: number;
  /** Hex SHA-256 the body must have: the id of a chunk, the checksum of a manifest. */
  checksum: string;
  /** The body will be hashed only at commit, perhaps read back (ObjectWriter.commit). */
  hashLater: boolean;
  /** A buffer of `size` bytes the body is copied into as it arrives (for the cache, or the layout). */
  copy?: Buffer;
}

/** A write staged in a layout: where its bytes go, and how it becomes the object. */
export interface Staged {
  /** The temp file the body streams into; absent when the layout keeps the copy (a pack). */
  file?: FileTarget;
  /** Bytes the object takes on the disk, body and what the layout adds. */
  diskBytes: number;
  /** Makes the verified body the object's. Called under the object's lock. */
  place(): Promise<void>;
  /** Called after place(), outside the lock: resolves once the placement is durable. */
  durable(): Promise<void>;
}

/**
 * One way of keeping objects on the disk: a file each (file-layout.ts) or records in the pack log
 * (pack-log.ts). A layout answers only for what it holds ("undefined": not here); the object
 * store above it validates, counts, locks each object and decides which layout a write goes to.
 * Methods that change an object are called under that object's lock.
 */
export interface ObjectLayout {
  /** Whether a staged write needs `copy` (the layout keeps the body from memory). */
  readonly needsCopy: boolean;
  stage(request: StageRequest): Promise<Staged>;
  /** Body size, from what is known without waiting for the disk (an index, the dentry cache). */
  sizeNow(kind: ObjectKind, id: string): number | undefined;
  /** Body size and when it was written (ms since the epoch). */
  stat(kind: ObjectKind, id: string): Promise<{ size: number; writtenAt: number } | undefined>;
  /** A range of the body for reads into the caller's buffers (checks the range: DFS_ERR_RANGE). */
  open(kind: ObjectKind, id: string, range: ReadRange): Promise<OpenedSource | undefined>;
  /** Removes the object; resolves its body size. */
  remove(kind: ObjectKind, id: string): Promise<number | undefined>;
  /** Moves the object to `to`, as the file it would be (header and body); resolves its body size. */
  quarantine(kind: ObjectKind, id: string, to: string): Promise<number | undefined>;
  /** Re-hashes the object through `scratch`: true when it matches its id or checksum. */
  verify(kind: ObjectKind, id: string, scratch: Buffer): Promise<boolean | undefined>;
  /** Ids held in ascending order, strictly after `after`, at most `max`. */
  list(kind: ObjectKind, after: string, max: number): Promise<string[]>;
  /**
   * At open: counts the objects held and sums their body sizes. Copies `hidden` names (a newer
   * copy is in a layout read first) are removed, and so is whatever a crash left half-written.
   * `found`, when given, is told of each object counted and its body's SHA-256 (hex), unless the
   * layout told of it already while it opened (the packs' recovery scan).
   */
  count(
    kind: ObjectKind,
    hidden: (id: string) => boolean,
    found?: (id: string, checksum: string) => void,
  ): Promise<{ count: number; bytes: number }>;
  close(): Promise<void>;
}
