import type { Writable } from "node:stream";
import type { ObjectKind } from "../../formats/index.ts";
import type { TokenBucket } from "../rate-limit.ts";

export interface StoreOptions {
  dataDir: string;
  /** fsync each object and its directory before a commit resolves (what makes an ack durable). */
  fsync: boolean;
  /** Disk space never given to objects, so the machine and its logs keep room to breathe. */
  reserveBytes: number;
  /** Bytes offered to the cluster; 0 means the disk's size. */
  capacityBytes: number;
  maxObjectBytes: number;
  /** Memory for the bodies of small objects stored or read lately (object-cache.ts); 0 or absent: none. */
  cacheBytes?: number;
  /** Bodies of at most 64 KiB go to pack files (pack-log.ts) instead of a file each (file-layout.ts). */
  packs?: boolean;
  /** A pack is sealed once it holds this many bytes (default 64 MiB; tests make it small). */
  packBytes?: number;
  /**
   * What pack compaction takes from before it moves bytes, shared with repair and scrub, so that
   * background work together stays under one rate; absent: compaction runs unthrottled.
   */
  background?: TokenBucket;
  /** Told of damage found and worked around: pack bytes skipped on open, a compaction that failed. */
  warn?(message: string, details: Record<string, unknown>): void;
  /** Told of what is held: at open, each object found; then every object stored or taken out. */
  changes?: StoreChanges;
}

/**
 * What the store tells of its contents as they change (the node's digests of what it holds keep
 * up with it). Calls are synchronous and made under the object's lock: at open, once per object
 * the packs' records and the files show (a later record of an id replaces an earlier one, a
 * removal record takes it out); after, once a write is published, and once a delete or quarantine
 * took an object out. A replaced object is `held` again with its new checksum.
 */
export interface StoreChanges {
  /** kind/id is held, its body with this SHA-256 (hex): a chunk's id, a manifest's checksum. */
  held(kind: ObjectKind, id: string, checksum: string): void;
  /** kind/id is held no more. */
  gone(kind: ObjectKind, id: string): void;
}

/** A write to start (ObjectStore.createWriter). */
export interface WriteRequest {
  kind: ObjectKind;
  id: string;
  /** The body's size in bytes, declared up front. */
  size: number;
  /** A manifest's: SHA-256 hex of its body (required). A chunk's, if given, must be its id. */
  checksum?: string;
  /**
   * For a node inside a chain, whose next node checks the same bytes: the hash waits for the
   * commit (ObjectWriter.commit).
   */
  hashLater?: boolean;
}

/**
 * One object being written. Pieces go in with write() (false => wait for 'drain'); end() or
 * commit() finishes it. Failures (TOO_LARGE, DISK_FULL, ...) are reported by commit()'s rejection
 * and as 'error' events; a listener is not required.
 */
export interface ObjectWriter extends Writable {
  /**
   * Ends the stream, verifies size and hash, and publishes: a synced temp file renamed into
   * place, or a record appended to a pack. Resolves once the object is visible (and durable when
   * fsync is on). Rejects with a DfsError; nothing is visible then.
   *
   * A writer made with `hashLater` did not hash the body as it arrived: `vouched` says whether the
   * next node of a chain stored the very bytes this one was given (it only stores what matches the
   * id). When it did not, or when `vouched` is absent or rejects, the writer hashes what it wrote
   * before it publishes anything.
   */
  commit(vouched?: Promise<boolean>): Promise<void>;
  /** Drops the write and its temp file. Idempotent; safe after a failed commit; a no-op after a good one. */
  abort(reason?: Error): Promise<void>;
}
