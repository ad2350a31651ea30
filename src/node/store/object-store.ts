import type { Readable } from "node:stream";
import { DfsError, toDfsError } from "../../errors.ts";
import type { ListPage, ObjectKind, ObjectSource, StoreCounters, StoreUsage } from "../../formats/index.ts";
import { BufferPool } from "../../transport/index.ts";
import type { Capacity } from "./capacity.ts";
import type { DataDirLock } from "./dir-lock.ts";
import type { FileLayout } from "./file-layout.ts";
import { KeyedMutex } from "./fsutil.ts";
import { CACHE_OBJECT_MAX_BYTES, ObjectCache } from "./object-cache.ts";
import type { ObjectLayout, Staged } from "./object-layout.ts";
import type { PackLog } from "./pack-log.ts";
import { assertKind, assertObjectId, checkWrite, type DataPaths } from "./paths.ts";
import { memorySource, sourceStream } from "./reader.ts";
import { mergeSorted } from "./scan.ts";
import { openParts, type StoreParts } from "./store-open.ts";
import type { ObjectWriter, StoreOptions, WriteRequest } from "./types.ts";
import { StoreWriter } from "./writer.ts";

const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 10_000;
const VERIFY_BUFFER_BYTES = 256 * 1024;
/**
 * Bodies up to this size go to packs. Not chunks of the default 1 MiB: every packed object costs
 * ~120 bytes of index in memory (120 MB per TiB of 1 MiB chunks), and under sustained writes their
 * gain was small (bench/README.md).
 */
const PACK_OBJECT_MAX_BYTES = CACHE_OBJECT_MAX_BYTES;

/** A range of an object's body: [offset, offset+length), length defaulting to the rest. */
export interface BodyRange {
  offset?: number;
  length?: number;
}

/** A verified write on its way into its layout. */
interface PendingWrite {
  layout: ObjectLayout;
  kind: ObjectKind;
  id: string;
  size: number;
  /** The body's SHA-256 (hex): the chunk's id, the manifest's checksum. */
  checksum: string;
  staged: Staged;
  /** The body in memory, when it was copied (for the cache, or the pack). */
  copy: Buffer | undefined;
}

/**
 * The node's objects, chunks and manifests, over two layouts (index.ts describes the disk):
 * the pack log and a file per object. It validates ids and sizes, keeps capacity, serialises the
 * changes of each object under its lock, keeps the small-object cache and the counters, and
 * routes: a write of at most 64 KiB goes to the packs when they are on, any other to a file. Reads
 * look in the packs first (their copy is the newer when both hold an id), so objects already in
 * either layout stay readable whatever the setting.
 */
export class ObjectStore {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly #options: Readonly<StoreOptions>;
  readonly #paths: DataPaths;
  readonly #lock: DataDirLock;
  readonly #locks: KeyedMutex;
  readonly #packs: PackLog;
  readonly #files: FileLayout;
  /** In the order reads look: the packs, then the files. */
  readonly #layouts: readonly ObjectLayout[];
  readonly #capacity: Capacity;
  readonly #writers = new Set<StoreWriter>();
  readonly #cache: ObjectCache;
  /** Buffers small bodies are copied into, for the cache or a pack: reused, so they never age into old space. */
  readonly #copies = new BufferPool(PACK_OBJECT_MAX_BYTES, 64);
  /** Reused buffers for verify(): scrubbing should not churn fresh memory. */
  readonly #scratch: Buffer[] = [];
  #cacheHits = 0;
  #cacheMisses = 0;
  #closed = false;

  private constructor(parts: StoreParts & { options: StoreOptions; locks: KeyedMutex }) {
    this.#options = Object.freeze({ ...parts.options });
    this.dataDir = parts.options.dataDir;
    this.nodeId = parts.nodeId;
    this.#paths = parts.paths;
    this.#lock = parts.lock;
    this.#locks = parts.locks;
    this.#packs = parts.packs;
    this.#files = parts.files;
    this.#layouts = [parts.packs, parts.files];
    this.#capacity = parts.capacity;
    this.#cache = new ObjectCache(parts.options.cacheBytes ?? 0);
  }

  /**
   * Takes the data directory's lock (DFS_ERR_DATA_DIR_LOCKED while another live process holds it)
   * and opens both layouts (store-open.ts).
   */
  static async open(options: StoreOptions): Promise<ObjectStore> {
    const locks = new KeyedMutex();
    const parts = await openParts(options, (kind, id, fn) => locks.run(lockKey(kind, id), fn));
    return new ObjectStore({ ...parts, options, locks });
  }

  /**
   * Starts a write after checking the id, the size limit and the free space. A manifest needs
   * `checksum` (SHA-256 hex of its bytes); a chunk's checksum, if given, must be its id.
   * Writing an object that exists is allowed: it is verified again and replaces the old copy.
   * `hashLater`: for a node inside a chain, whose next node checks the same bytes (see
   * ObjectWriter.commit).
   */
  async createWriter(request: WriteRequest): Promise<ObjectWriter> {
    this.#assertOpen();
    const { kind, id, size } = request;
    const expectedHash = checkWrite(request, this.#options.maxObjectBytes);
    const hashLater = request.hashLater === true;
    this.#capacity.reserve(size);
    let held: Buffer | undefined;
    try {
      const layout = this.#route(size);
      // A small body is also copied as it is written: for the cache once it is published, or for the pack.
      held = layout.needsCopy || this.#cache.admits(size) ? this.#copies.take() : undefined;
      const copy = held?.subarray(0, size);
      const staged = await layout.stage({
        kind,
        id,
        size,
        checksum: expectedHash,
        hashLater,
        ...(copy ? { copy } : {}),
      });
      const writer: StoreWriter = new StoreWriter({
        kind,
        id,
        size,
        expectedHash,
        hashLater,
        ...(staged.file ? { file: staged.file } : {}),
        ...(copy ? { copy } : {}),
        publish: () => this.#publish({ layout, kind, id, size, checksum: expectedHash, staged, copy }),
        settle: () => {
          if (held) this.#copies.give(held);
          this.#capacity.release(size);
          this.#writers.delete(writer);
        },
      });
      this.#writers.add(writer);
      return writer;
    } catch (err) {
      if (held) this.#copies.give(held);
      this.#capacity.release(size);
      throw toDfsError(err);
    }
  }

  /**
   * Whether a copy is here, without leaving the event loop: the cache, the packs' index, then a
   * statSync of the file (~4 µs when missing, against ~60 µs of CPU for an async stat that fails).
   * For the PUT path, whose publish looks the same way.
   */
  holdsNow(kind: ObjectKind, id: string): boolean {
    this.#check(kind, id);
    return (
      this.#cache.has(kind, id) || this.#layouts.some((layout) => layout.sizeNow(kind, id) !== undefined)
    );
  }

  async has(kind: ObjectKind, id: string): Promise<boolean> {
    if (this.#cache.has(kind, id)) return true;
    return (await this.size(kind, id)) !== undefined;
  }

  /** Body size, or undefined when absent. */
  async size(kind: ObjectKind, id: string): Promise<number | undefined> {
    return (await this.#stat(kind, id))?.size;
  }

  /** When the object was written (ms since the epoch), or undefined when absent. */
  async writtenAt(kind: ObjectKind, id: string): Promise<number | undefined> {
    return (await this.#stat(kind, id))?.writtenAt;
  }

  /** Streams a range of the body from the disk (repair's reads: the cache is for GETs). */
  async createReader(
    kind: ObjectKind,
    id: string,
    range: BodyRange = {},
  ): Promise<{ size: number; body: Readable }> {
    this.#check(kind, id);
    const opened = await this.#first((layout) => layout.open(kind, id, range));
    if (opened === undefined) throw notFound(kind, id);
    return { size: opened.size, body: sourceStream(opened.source, opened.length) };
  }

  /**
   * Opens a range of the body for reads into the caller's buffers (the GET path). A small body
   * comes from the cache, or is read whole and kept there unless an object changed meanwhile.
   */
  async openSource(
    kind: ObjectKind,
    id: string,
    range: BodyRange = {},
  ): Promise<{ size: number; length: number; source: ObjectSource }> {
    this.#check(kind, id);
    const cached = this.#cache.get(kind, id);
    if (cached !== undefined) {
      this.#cacheHits++;
      return memorySource(cached, kind, id, range.offset, range.length);
    }
    const before = this.#cache.mutations;
    const wholeUpTo = this.#cache.objectMaxBytes;
    // A loop, not #first: this is the GET path, and each async call costs.
    for (const layout of this.#layouts) {
      const opened = await layout.open(kind, id, { ...range, wholeUpTo });
      if (opened === undefined) continue;
      if (opened.whole !== undefined) {
        this.#cacheMisses++;
        if (this.#cache.mutations === before) this.#cache.set(kind, id, opened.whole);
      }
      return { size: opened.size, length: opened.length, source: opened.source };
    }
    throw notFound(kind, id);
  }

  /**
   * Resolves true when something was deleted, false when it was not there. With `writtenBy`
   * (ms since the epoch), a copy written after that time is kept and false resolved: what decided
   * to delete it (garbage collection, an expired tombstone) looked at an older one, and the
   * check is made under the object's lock, so no write can slip in between.
   */
  async delete(kind: ObjectKind, id: string, options: { writtenBy?: number } = {}): Promise<boolean> {
    this.#check(kind, id);
    return this.#locks.run(lockKey(kind, id), async () => {
      if (options.writtenBy !== undefined) {
        const writtenAt = await this.writtenAt(kind, id);
        if (writtenAt === undefined || writtenAt > options.writtenBy) return false;
      }
      return this.#takeOut(kind, id, (layout) => layout.remove(kind, id));
    });
  }

  /** Moves a corrupt object to quarantine/ (replacing an older copy there). False when absent. */
  async quarantine(kind: ObjectKind, id: string): Promise<boolean> {
    this.#check(kind, id);
    const to = this.#paths.quarantinePathOf(kind, id);
    return this.#locks.run(lockKey(kind, id), () =>
      this.#takeOut(kind, id, (layout) => layout.quarantine(kind, id, to)),
    );
  }

  /** Ids in ascending order strictly after `after`, at most `limit` (default 1000, cap 10000). */
  async list(kind: ObjectKind, after?: string, limit = DEFAULT_LIST_LIMIT): Promise<ListPage> {
    assertKind(kind);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", `list limit must be a positive integer, got ${limit}`);
    }
    const max = Math.min(limit, MAX_LIST_LIMIT);
    // One more than asked tells whether another page exists.
    const lists = await Promise.all(this.#layouts.map((l) => l.list(kind, after ?? "", max + 1)));
    const ids = lists.reduce((a, b) => mergeSorted(a, b, max + 1));
    if (ids.length <= max) return { ids };
    ids.length = max;
    return { ids, next: ids[max - 1]! };
  }

  /** Re-hashes a stored object from the disk: true when it matches its id (chunk) or checksum (manifest). */
  async verify(kind: ObjectKind, id: string): Promise<boolean> {
    this.#check(kind, id);
    const scratch = this.#scratch.pop() ?? Buffer.allocUnsafeSlow(VERIFY_BUFFER_BYTES);
    try {
      const good = await this.#first((layout) => layout.verify(kind, id, scratch));
      if (good === undefined) throw notFound(kind, id);
      return good;
    } finally {
      this.#scratch.push(scratch);
    }
  }

  stats(): Promise<StoreUsage> {
    return this.#capacity.stats();
  }

  /** The cache's hits and misses and the packs' state, for the node's published record. */
  get counters(): StoreCounters {
    const packs = this.#packs.stats;
    return {
      cacheHits: this.#cacheHits,
      cacheMisses: this.#cacheMisses,
      packFiles: packs.files,
      packBytes: packs.bytes,
      packLiveBytes: packs.liveBytes,
      packBatches: packs.batches,
      packRecords: packs.records,
      packCompactions: packs.compactions,
    };
  }

  /**
   * Refuses new writes, drops the ones still open (their temp files go) and releases the data
   * directory. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#writers].map((w) => w.abort(new DfsError("DFS_ERR_SHUTTING_DOWN"))));
    for (const layout of this.#layouts) await layout.close();
    this.#lock.release();
  }

  /** The one place a write's layout is chosen. */
  #route(size: number): ObjectLayout {
    return this.#options.packs && size <= PACK_OBJECT_MAX_BYTES ? this.#packs : this.#files;
  }

  /**
   * Makes a verified write the object, under its lock: the copy another layout holds goes (the
   * new one is newer), and the cache and the counters change with it. Then waits for durability.
   */
  async #publish(write: PendingWrite): Promise<void> {
    const { layout: target, kind, id, size, checksum, staged, copy } = write;
    await this.#locks.run(lockKey(kind, id), async () => {
      const { holder, size: before } = this.#holderNow(kind, id);
      await staged.place();
      if (holder !== undefined && holder !== target) await holder.remove(kind, id);
      if (copy) this.#cache.set(kind, id, copy);
      else this.#cache.delete(kind, id);
      this.#capacity.stored(kind, before, size, staged.diskBytes);
      this.#options.changes?.held(kind, id, checksum);
    });
    await staged.durable();
  }

  /**
   * Takes the object out of the first layout holding it (`take` resolves the body size removed).
   * The cache entry goes with it, and when taking it out fails too.
   */
  async #takeOut(
    kind: ObjectKind,
    id: string,
    take: (layout: ObjectLayout) => Promise<number | undefined>,
  ): Promise<boolean> {
    let size: number | undefined;
    try {
      size = await this.#first(take);
    } catch (err) {
      this.#cache.delete(kind, id);
      throw err;
    }
    if (size === undefined) return false;
    this.#cache.delete(kind, id);
    this.#capacity.forget(kind, size);
    this.#options.changes?.gone(kind, id);
    return true;
  }

  async #stat(kind: ObjectKind, id: string): Promise<{ size: number; writtenAt: number } | undefined> {
    this.#check(kind, id);
    return this.#first((layout) => layout.stat(kind, id));
  }

  /** Asks the layouts in read order; resolves the first answer that is not undefined. */
  async #first<T>(ask: (layout: ObjectLayout) => Promise<T | undefined>): Promise<T | undefined> {
    for (const layout of this.#layouts) {
      const answer = await ask(layout);
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /**
   * The layout holding the object and its size, without waiting for the disk. An id is in one
   * layout at most (a publish removes the other copy, open removes files a pack holds), so the
   * first found is the only one.
   */
  #holderNow(kind: ObjectKind, id: string): { holder?: ObjectLayout; size?: number } {
    for (const layout of this.#layouts) {
      const size = layout.sizeNow(kind, id);
      if (size !== undefined) return { holder: layout, size };
    }
    return {};
  }

  #check(kind: ObjectKind, id: string): void {
    assertKind(kind);
    assertObjectId(id);
  }

  #assertOpen(): void {
    if (this.#closed) throw new DfsError("DFS_ERR_SHUTTING_DOWN", "the store is closed");
  }
}

function lockKey(kind: ObjectKind, id: string): string {
  return kind === "chunk" ? `c${id}` : `m${id}`;
}

function notFound(kind: ObjectKind, id: string): DfsError {
  return new DfsError("DFS_ERR_NOT_FOUND", `${kind} ${id} not found`);
}
