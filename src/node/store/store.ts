/*
 * The storage node's object store on disk. Layout under the data dir:
 *
 *   lock.db                the kernel file lock of the node process using this directory (dir-lock.ts).
 *   alive                  when the node last took part in its cluster (ms since the epoch).
 *   node-id                this node's id: 32 lowercase hex chars, random, created once (temp file,
 *                          fsync, link into place) and kept across restarts.
 *   chunks/ab/cd/<id>      a chunk: its bytes, id = SHA-256 hex of them (ab = id[0..2], cd = id[2..4]).
 *   manifests/ab/cd/<id>   a manifest: a 32-byte raw SHA-256 of the body, then the body. The id is the
 *                          gateway's; the header lets the node scrub it without keys. Sizes are body sizes.
 *   packs/<n>.pack         bodies of at most 64 KiB, as records appended in group-committed batches
 *                          (pack-log.ts). When an id is both in a pack and a file, the pack's is
 *                          the newer: open() removes such files.
 *   chunks/ab/cd/.tmp-<id>-<pid>.<random>.<n>, and the same under manifests/: a write in progress,
 *                          in the directory of the object it will become; removed on open, so a crash
 *                          never leaves a partial object. Never listed (not an id).
 *   tmp/                   the node id's temp file; emptied on open.
 *   quarantine/<kind>-<id> copies that failed verification, moved aside for inspection.
 *
 * With packs on, a body of at most 64 KiB (a manifest, a small file's chunk) is hashed and
 * copied into a reused buffer as it arrives, then appended to the pack log with the other writes
 * of the moment: one writev and one fdatasync for the batch. A larger write goes: temp file in the
 * object's own fan-out directory (made first if need be) -> pieces hashed as they arrive -> size
 * and hash checked -> fdatasync (fsync on) -> rename to the object's name in the same directory ->
 * fsync of the directory, and of the parent of a fan-out directory the write created (fsync on).
 * Only then does commit() resolve: an object is either absent or whole and verified. Directory
 * fsyncs are group-committed (dir-sync.ts): renames that finish together share one round, but a
 * commit always waits for a round that started after its own rename. Temp files beside their
 * objects, not in one shared directory, measured +11% for 512 MiB uploads through the gateway and
 * +18% for chains of 3 nodes (bench/README.md, eighth session): creating and renaming every
 * write's file in one directory serialised the pool threads on it, and every fdatasync of a new
 * file wrote that directory back too.
 *
 * The write path avoids thread-pool round trips (~25-35 µs of CPU each here, and a wait behind the
 * fsyncs that occupy the pool) where a call does not wait for the disk: free space comes from a
 * statfs at most 500 ms old (disk-space.ts), the existence check before a rename is a statSync (in
 * the directory the write just made sure of, so cached), a manifest's header goes out with its
 * first body write, and descriptors are closed directly. Opening the temp file, writing data,
 * fdatasync and rename stay on the pool: they allocate or wait for the disk. Lookups that may meet
 * a cold directory (has, size, mkdir, a GET's open) stay there too.
 *
 * Bodies of small objects (<= 64 KiB: manifests, small files' chunks) stored or read lately are
 * also kept in memory, bounded by cacheBytes (object-cache.ts): a GET of one costs no thread-pool
 * round trip at all. Every change of an object changes its entry under the same lock.
 */
import { randomBytes } from "node:crypto";
import { rename as renameCb, statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, statfs, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { DfsError, toDfsError } from "../../errors.ts";
import type { ListPage, ObjectKind } from "../../transport/api.ts";
import { BufferPool } from "../../transport/index.ts";
import { DataDirLock } from "./dir-lock.ts";
import { DirSyncer } from "./dir-sync.ts";
import { DiskSpace } from "./disk-space.ts";
import { closeFd, isNotFound, KeyedMutex, openFd, unlinkQuietly } from "./fsutil.ts";
import { loadOrCreateNodeId } from "./node-id.ts";
import { CACHE_OBJECT_MAX_BYTES, ObjectCache } from "./object-cache.ts";
import { PackLog } from "./pack-log.ts";
import { RECORD_HEADER_BYTES, recordChecksum } from "./pack-record.ts";
import { assertKind, assertObjectId, headerBytes, Layout, TMP_MARK } from "./paths.ts";
import { checkRange, memorySource, openReader, openSource, sourceStream, verifyObject } from "./reader.ts";
import { countObjects, listIds } from "./scan.ts";
import type { ObjectSource, ObjectWriter, StoreCounters, StoreOptions, StoreStats } from "./types.ts";
import { StoreWriter } from "./writer.ts";

const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 10_000;
const VERIFY_BUFFER_BYTES = 256 * 1024;
const DEFAULT_PACK_BYTES = 64 * 1024 * 1024;
/**
 * Bodies up to this size go to packs. Not chunks of the default 1 MiB: every packed object costs
 * ~120 bytes of index in memory (120 MB per TiB of 1 MiB chunks), and under sustained writes their
 * gain was small (bench/README.md, fifth session).
 */
const PACK_OBJECT_MAX_BYTES = CACHE_OBJECT_MAX_BYTES;

export class ChunkStore {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly #options: Readonly<StoreOptions>;
  readonly #layout: Layout;
  readonly #lock: DataDirLock;
  readonly #locks: KeyedMutex;
  /** Small objects (pack-log.ts). Opened even with packs off, so what is in them stays readable. */
  readonly #packs: PackLog;
  readonly #counts: Record<ObjectKind, number>;
  #storedBytes: number;
  /** Declared sizes of writes in progress: promised space, not yet on the disk. */
  #pendingBytes = 0;
  readonly #writers = new Set<StoreWriter>();
  /** Fan-out directories known to exist (the store never removes them). */
  readonly #knownDirs = new Set<string>();
  /** Directories made whose entry in their parent is not yet known durable: made -> parent. */
  readonly #unsyncedDirs = new Map<string, string>();
  readonly #disk: DiskSpace;
  readonly #dirSync = new DirSyncer();
  readonly #cache: ObjectCache;
  /** Buffers small writes are copied into for the cache: reused, so they never age into old space. */
  readonly #copies = new BufferPool(PACK_OBJECT_MAX_BYTES, 64);
  /** Reused buffers for verify(): scrubbing should not churn fresh memory. */
  readonly #scratch: Buffer[] = [];
  #seq = 0;
  #cacheHits = 0;
  #cacheMisses = 0;
  #closed = false;
  readonly #tmpPrefix = `${process.pid}.${randomBytes(4).toString("hex")}`;

  private constructor(
    options: StoreOptions,
    layout: Layout,
    lock: DataDirLock,
    nodeId: string,
    counts: Record<ObjectKind, number>,
    storedBytes: number,
    locks: KeyedMutex,
    packs: PackLog,
  ) {
    this.#options = Object.freeze({ ...options });
    this.#layout = layout;
    this.#lock = lock;
    this.#locks = locks;
    this.#packs = packs;
    this.dataDir = options.dataDir;
    this.nodeId = nodeId;
    this.#counts = counts;
    this.#storedBytes = storedBytes;
    this.#disk = new DiskSpace(options.dataDir);
    this.#cache = new ObjectCache(options.cacheBytes ?? 0);
  }

  /**
   * Takes the data directory's lock (DFS_ERR_DATA_DIR_LOCKED while another live process holds it),
   * creates the layout, empties tmp/, loads or creates the node id, counts what is stored and
   * removes writes in progress that a crash left behind (countObjects).
   */
  static async open(options: StoreOptions): Promise<ChunkStore> {
    const layout = new Layout(options.dataDir);
    await mkdir(options.dataDir, { recursive: true });
    const lock = DataDirLock.acquire(options.dataDir);
    let packs: PackLog | undefined;
    try {
      for (const dir of [layout.root("chunk"), layout.root("manifest"), layout.tmp, layout.quarantine]) {
        await mkdir(dir, { recursive: true });
      }
      // Whatever is in tmp/ was being written when the last process stopped: none of it was acked.
      for (const name of await readdir(layout.tmp)) {
        await rm(join(layout.tmp, name), { recursive: true, force: true });
      }
      const nodeId = await loadOrCreateNodeId(layout.nodeIdFile, layout.tmp);
      const locks = new KeyedMutex();
      packs = await PackLog.open({
        dir: layout.packs,
        fsync: options.fsync,
        packBytes: options.packBytes ?? DEFAULT_PACK_BYTES,
        ...(options.background ? { budget: options.background } : {}),
        lock: (kind, id, fn) => locks.run(layout.pathOf(kind, id), fn),
        ...(options.warn ? { warn: options.warn } : {}),
      });
      const counts = { chunk: 0, manifest: 0 };
      let storedBytes = 0;
      for (const kind of ["chunk", "manifest"] as const) {
        const log = packs;
        const files = await countObjects(
          layout.root(kind),
          headerBytes(kind),
          (id) => log.get(kind, id) !== undefined,
        );
        const packed = packs.count(kind);
        counts[kind] = files.count + packed.count;
        storedBytes += files.bytes + packed.bytes;
      }
      return new ChunkStore(options, layout, lock, nodeId, counts, storedBytes, locks, packs);
    } catch (err) {
      await packs?.close();
      lock.release();
      throw err;
    }
  }

  /**
   * Starts a write after checking the id, the size limit and the free space. A manifest needs
   * `checksum` (SHA-256 hex of its bytes); a chunk's checksum, if given, must be its id.
   * Writing an object that exists is allowed: it is verified again and replaces the old file.
   * `hashLater`: for a node inside a chain, whose next node checks the same bytes (see
   * ObjectWriter.commit).
   */
  async createWriter(
    kind: ObjectKind,
    id: string,
    size: number,
    checksum?: string,
    options: { hashLater?: boolean } = {},
  ): Promise<ObjectWriter> {
    this.#assertOpen();
    assertKind(kind);
    assertObjectId(id);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", `size must be a non-negative integer, got ${size}`);
    }
    let expectedHash = id;
    if (kind === "manifest") {
      assertObjectId(checksum, "a manifest's checksum");
      expectedHash = checksum;
    } else if (checksum !== undefined && checksum !== id) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", "a chunk's checksum, when given, must equal its id");
    }
    if (size > this.#options.maxObjectBytes) {
      throw new DfsError(
        "DFS_ERR_TOO_LARGE",
        `object of ${size} bytes exceeds the limit of ${this.#options.maxObjectBytes}`,
        { details: { maxObjectBytes: this.#options.maxObjectBytes } },
      );
    }
    // Promise the space before the first await, so concurrent writes cannot both take the last of it.
    this.#checkCapacity(size);
    this.#pendingBytes += size;
    if (this.#options.packs && size <= PACK_OBJECT_MAX_BYTES) {
      try {
        this.#checkDisk(size);
      } catch (err) {
        this.#pendingBytes -= size;
        throw err;
      }
      return this.#packWriter(kind, id, size, expectedHash, options.hashLater === true);
    }
    const dir = this.#layout.dirOf(kind, id);
    const tmpPath = join(dir, `${TMP_MARK}${id}-${this.#tmpPrefix}.${++this.#seq}`);
    let fd: number | undefined;
    try {
      this.#checkDisk(size);
      await this.#ensureDir(kind, dir);
      // Read-write when the body may have to be read back and hashed (hashLater).
      fd = await openFd(tmpPath, options.hashLater === true ? "wx+" : "wx", 0o640);
      // A small body is also copied as it is written, for the cache once it is published.
      const held = this.#cache.admits(size) ? this.#copies.take() : undefined;
      const copy = held?.subarray(0, size);
      const writer: StoreWriter = new StoreWriter({
        kind,
        id,
        size,
        expectedHash,
        hashLater: options.hashLater === true,
        file: {
          tmpPath,
          fd,
          ...(kind === "manifest" ? { prefix: Buffer.from(expectedHash, "hex") } : {}),
          fsync: this.#options.fsync,
        },
        ...(copy ? { copy } : {}),
        publish: () => this.#publish(kind, id, tmpPath, size, copy),
        settle: () => {
          if (held) this.#copies.give(held);
          this.#pendingBytes -= size;
          this.#writers.delete(writer);
        },
      });
      this.#writers.add(writer);
      return writer;
    } catch (err) {
      this.#pendingBytes -= size;
      if (fd !== undefined) await closeFd(fd).catch(() => {});
      await rm(tmpPath, { force: true });
      throw toDfsError(err);
    }
  }

  /** A small write: the body is collected in a pooled buffer, then appended to a pack. */
  #packWriter(
    kind: ObjectKind,
    id: string,
    size: number,
    checksum: string,
    hashLater: boolean,
  ): ObjectWriter {
    const held = this.#copies.take();
    const body = held.subarray(0, size);
    const writer: StoreWriter = new StoreWriter({
      kind,
      id,
      size,
      expectedHash: checksum,
      hashLater,
      copy: body,
      publish: () => this.#publishPacked(kind, id, checksum, body),
      settle: () => {
        this.#copies.give(held);
        this.#pendingBytes -= size;
        this.#writers.delete(writer);
      },
    });
    this.#writers.add(writer);
    return writer;
  }

  async has(kind: ObjectKind, id: string): Promise<boolean> {
    if (this.#cache.has(kind, id)) return true;
    return (await this.size(kind, id)) !== undefined;
  }

  /**
   * Body size, or undefined when absent. On the thread pool, unlike #sizeNow: the object's
   * directory may not have been touched for hours, and a lookup that has to read it from the disk
   * must not stall the event loop.
   */
  async size(kind: ObjectKind, id: string): Promise<number | undefined> {
    const path = this.#pathOf(kind, id);
    const packed = this.#packs.get(kind, id);
    if (packed) return packed.size;
    try {
      return Math.max(0, (await stat(path)).size - headerBytes(kind));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Streams [offset, offset+length) of the body; length defaults to the rest. */
  async createReader(
    kind: ObjectKind,
    id: string,
    offset = 0,
    length?: number,
  ): Promise<{ size: number; body: Readable }> {
    const path = this.#pathOf(kind, id);
    const packed = this.#packs.get(kind, id);
    if (packed) {
      const count = checkRange(kind, id, packed.size, offset, length);
      return { size: packed.size, body: sourceStream(this.#packs.source(packed, offset, count)) };
    }
    return openReader(path, kind, id, headerBytes(kind), offset, length);
  }

  /**
   * [offset, offset+length) of the body for reads into the caller's buffers (the GET path). A small
   * body comes from the cache, or is read whole and kept there unless an object changed meanwhile.
   */
  async openSource(
    kind: ObjectKind,
    id: string,
    offset = 0,
    length?: number,
  ): Promise<{ size: number; length: number; source: ObjectSource }> {
    const path = this.#pathOf(kind, id);
    const cached = this.#cache.get(kind, id);
    if (cached !== undefined) {
      this.#cacheHits++;
      return memorySource(cached, kind, id, offset, length);
    }
    const before = this.#cache.mutations;
    const packed = this.#packs.get(kind, id);
    if (packed && this.#cache.admits(packed.size)) {
      this.#cacheMisses++;
      const body = await this.#packs.readBody(packed);
      if (this.#cache.mutations === before) this.#cache.set(kind, id, body);
      return memorySource(body, kind, id, offset, length);
    }
    if (packed) {
      const count = checkRange(kind, id, packed.size, offset, length);
      return { size: packed.size, length: count, source: this.#packs.source(packed, offset, count) };
    }
    const upTo = this.#cache.objectMaxBytes;
    const opened = await openSource(path, kind, id, headerBytes(kind), offset, length, upTo);
    if (opened.whole !== undefined) {
      this.#cacheMisses++;
      if (this.#cache.mutations === before) this.#cache.set(kind, id, opened.whole);
    }
    return opened;
  }

  /**
   * Resolves true when something was deleted, false when it was not there. With `writtenBy`
   * (ms since the epoch), a copy written after that time is kept and false resolved: what decided
   * to delete it (garbage collection, an expired tombstone) looked at an older one, and the
   * check is made under the object's lock, so no write can slip in between.
   */
  async delete(kind: ObjectKind, id: string, options: { writtenBy?: number } = {}): Promise<boolean> {
    const path = this.#pathOf(kind, id);
    return this.#locks.run(path, async () => {
      const packed = this.#packs.get(kind, id);
      if (options.writtenBy !== undefined) {
        const writtenAt = await this.writtenAt(kind, id);
        if (writtenAt === undefined || writtenAt > options.writtenBy) return false;
      }
      if (packed) {
        await this.#packs.remove(kind, id);
        this.#cache.delete(kind, id);
        this.#forget(kind, packed.size);
        return true;
      }
      const size = await this.size(kind, id);
      if (size === undefined) return false;
      try {
        await unlink(path);
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      } finally {
        this.#cache.delete(kind, id);
      }
      this.#forget(kind, size);
      return true;
    });
  }

  /** Moves a corrupt object to quarantine/ (replacing an older copy there). False when absent. */
  async quarantine(kind: ObjectKind, id: string): Promise<boolean> {
    const path = this.#pathOf(kind, id);
    return this.#locks.run(path, async () => {
      const packed = this.#packs.get(kind, id);
      if (packed) {
        // Moved aside as the file it would be: a manifest's checksum (as its record holds it), the body.
        const { raw, body } = await this.#packs.readRecord(packed);
        const prefix = kind === "manifest" ? [recordChecksum(raw)] : [];
        await writeFile(this.#layout.quarantinePathOf(kind, id), [...prefix, body]);
        await this.#packs.remove(kind, id);
        this.#cache.delete(kind, id);
        this.#forget(kind, packed.size);
        return true;
      }
      const size = await this.size(kind, id);
      if (size === undefined) return false;
      this.#cache.delete(kind, id);
      await rename(path, this.#layout.quarantinePathOf(kind, id));
      this.#forget(kind, size);
      return true;
    });
  }

  /** Ids in ascending order strictly after `after`, at most `limit` (default 1000, cap 10000). */
  async list(kind: ObjectKind, after?: string, limit = DEFAULT_LIST_LIMIT): Promise<ListPage> {
    assertKind(kind);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", `list limit must be a positive integer, got ${limit}`);
    }
    const max = Math.min(limit, MAX_LIST_LIMIT);
    // One more than asked tells whether another page exists.
    const files = await listIds(this.#layout.root(kind), after ?? "", max + 1);
    const ids = mergeSorted(files, this.#packs.ids(kind, after ?? "", max + 1), max + 1);
    if (ids.length <= max) return { ids };
    ids.length = max;
    return { ids, next: ids[max - 1]! };
  }

  /** Re-hashes a stored object: true when it matches its id (chunk) or checksum (manifest). */
  async verify(kind: ObjectKind, id: string): Promise<boolean> {
    const path = this.#pathOf(kind, id);
    const packed = this.#packs.get(kind, id);
    const scratch = this.#scratch.pop() ?? Buffer.allocUnsafeSlow(VERIFY_BUFFER_BYTES);
    try {
      if (packed) return await this.#packs.verify(kind, id, packed, scratch);
      return await verifyObject(path, kind, id, scratch);
    } finally {
      this.#scratch.push(scratch);
    }
  }

  /**
   * freeBytes = min(disk available − reserve, capacity − stored when a capacity is set), never
   * negative. capacityBytes is the configured capacity, or the disk's size when none is set.
   */
  async stats(): Promise<StoreStats> {
    const s = await statfs(this.dataDir);
    const disk = { available: s.bavail * s.bsize, total: s.blocks * s.bsize };
    const { capacityBytes, reserveBytes } = this.#options;
    let freeBytes = disk.available - reserveBytes;
    if (capacityBytes > 0) freeBytes = Math.min(freeBytes, capacityBytes - this.#storedBytes);
    return {
      capacityBytes: capacityBytes > 0 ? capacityBytes : disk.total,
      freeBytes: Math.max(0, freeBytes),
      chunkCount: this.#counts.chunk,
      manifestCount: this.#counts.manifest,
      storedBytes: this.#storedBytes,
    };
  }

  /** Records that this node just took part in its cluster (a repair round): see lastAlive. */
  async markAlive(): Promise<void> {
    await writeFile(this.#layout.aliveFile, `${Date.now()}\n`);
  }

  /**
   * When markAlive last ran on this data directory (ms since the epoch); undefined when it never
   * did or the file is unreadable. A node away from its cluster for longer than the tombstone
   * grace may hold manifests of files deleted meanwhile (node/main.ts warns).
   */
  async lastAlive(): Promise<number | undefined> {
    try {
      const at = Number((await readFile(this.#layout.aliveFile, "utf8")).trim());
      return Number.isSafeInteger(at) && at > 0 ? at : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** When the object was written (ms since the epoch), or undefined when absent. */
  async writtenAt(kind: ObjectKind, id: string): Promise<number | undefined> {
    const path = this.#pathOf(kind, id);
    const packed = this.#packs.get(kind, id);
    if (packed) return packed.writtenAt;
    try {
      return (await stat(path)).mtimeMs;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Pack files and the batches written to them (tests). */
  get packStats(): { packs: number; batches: number } {
    return { packs: this.#packs.packCount, batches: this.#packs.batches };
  }

  /** The cache's hits and misses and the packs' state, for the node's published record. */
  get counters(): StoreCounters {
    const bytes = this.#packs.bytes;
    return {
      cacheHits: this.#cacheHits,
      cacheMisses: this.#cacheMisses,
      packFiles: this.#packs.packCount,
      packBytes: bytes.total,
      packLiveBytes: bytes.live,
      packBatches: this.#packs.batches,
      packRecords: this.#packs.records,
      packCompactions: this.#packs.compactions,
    };
  }

  /** What the cache of small objects holds now (object-cache.ts). */
  get cached(): { objects: number; bytes: number } {
    return { objects: this.#cache.size, bytes: this.#cache.bytes };
  }

  /** Directory fsyncs issued so far (tests; dir-sync.ts counts one per directory per round). */
  get directoryFsyncs(): number {
    return this.#dirSync.fsyncs;
  }

  /**
   * Refuses new writes, drops the ones still open (their temp files go) and releases the data
   * directory. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#writers].map((w) => w.abort(new DfsError("DFS_ERR_SHUTTING_DOWN"))));
    await this.#packs.close();
    this.#lock.release();
  }

  #assertOpen(): void {
    if (this.#closed) throw new DfsError("DFS_ERR_SHUTTING_DOWN", "the store is closed");
  }

  #pathOf(kind: ObjectKind, id: string): string {
    assertKind(kind);
    assertObjectId(id);
    return this.#layout.pathOf(kind, id);
  }

  /** Space promised to writes in progress counts as used, so concurrent writes cannot overbook. */
  #checkCapacity(size: number): void {
    const { capacityBytes } = this.#options;
    if (capacityBytes > 0 && this.#storedBytes + this.#pendingBytes + size > capacityBytes) {
      throw new DfsError(
        "DFS_ERR_DISK_FULL",
        `capacity of ${capacityBytes} bytes reached: ${this.#storedBytes} stored, ` +
          `${this.#pendingBytes} promised to writes in progress, ${size} requested`,
      );
    }
  }

  /**
   * Called with `size` already counted in #pendingBytes. The free space is a recent statfs minus
   * what was stored since (DiskSpace); a refusal is only made on a fresh one.
   */
  #checkDisk(size: number): void {
    const { reserveBytes } = this.#options;
    let available = this.#disk.available();
    if (available - this.#pendingBytes < reserveBytes) available = this.#disk.refresh().available;
    if (available - this.#pendingBytes < reserveBytes) {
      throw new DfsError(
        "DFS_ERR_DISK_FULL",
        `not enough free space for ${size} bytes: ${available} available on disk, ` +
          `${this.#pendingBytes - size} promised to other writes in progress, ${reserveBytes} kept in reserve`,
      );
    }
  }

  /** Renames a verified temp file into place and keeps the counters exact when it replaces one. */
  async #publish(kind: ObjectKind, id: string, tmpPath: string, size: number, copy?: Buffer): Promise<void> {
    const path = this.#layout.pathOf(kind, id);
    const dir = dirname(path);
    await this.#ensureDir(kind, dir);
    await this.#locks.run(path, async () => {
      const packed = this.#packs.get(kind, id);
      const before = packed?.size ?? this.#sizeNow(kind, path);
      await new Promise<void>((resolve, reject) =>
        renameCb(tmpPath, path, (err) => (err ? reject(err) : resolve())),
      );
      // The file is the newer copy now; a tombstone hides the pack's (which would win on open).
      if (packed) await this.#packs.remove(kind, id);
      if (copy) this.#cache.set(kind, id, copy);
      else this.#cache.delete(kind, id);
      if (before === undefined) this.#counts[kind]++;
      this.#storedBytes += size - (before ?? 0);
      this.#disk.wrote(size + headerBytes(kind));
    });
    if (!this.#options.fsync) return;
    // The rename's directory and the parents of directories made for it: one round.
    const pending = this.#syncPending(kind, dir);
    await Promise.all([dir, ...pending.map(([, parent]) => parent)].map((d) => this.#dirSync.sync(d)));
    for (const [made] of pending) this.#unsyncedDirs.delete(made);
  }

  /**
   * Appends a verified small body to the pack log. A file of the same id (written before packs
   * were on, or replaced) is removed after: the pack's copy is the newer one.
   */
  async #publishPacked(kind: ObjectKind, id: string, checksum: string, body: Buffer): Promise<void> {
    const path = this.#layout.pathOf(kind, id);
    await this.#locks.run(path, async () => {
      const packedSize = this.#packs.get(kind, id)?.size;
      const fileSize = packedSize === undefined ? this.#sizeNow(kind, path) : undefined;
      const before = packedSize ?? fileSize;
      await this.#packs.put(kind, id, checksum, body);
      this.#cache.set(kind, id, body);
      if (before === undefined) this.#counts[kind]++;
      this.#storedBytes += body.length - (before ?? 0);
      this.#disk.wrote(body.length + RECORD_HEADER_BYTES);
      if (fileSize !== undefined) await unlinkQuietly(path);
    });
  }

  /**
   * Body size of what is at `path` now, or undefined. Synchronous on purpose: a lookup in the
   * dentry cache costs ~1 µs, a thread-pool round trip ~25 µs, and a missing file (the usual case
   * before a publish) does not build an Error.
   */
  #sizeNow(kind: ObjectKind, path: string): number | undefined {
    const s = statSync(path, { throwIfNoEntry: false });
    return s === undefined ? undefined : Math.max(0, s.size - headerBytes(kind));
  }

  /**
   * Makes sure the object's fan-out directory exists. Each directory made is recorded with its
   * parent, whose entry for it is not durable until that parent is fsynced (#syncPending). On the
   * pool: after a restart the first write into each directory looks it up, perhaps from the disk.
   * One mkdir at a time per first-level directory, so that a write never misses a directory
   * another write has made but not recorded yet.
   */
  async #ensureDir(kind: ObjectKind, dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    await this.#locks.run(dirname(dir), async () => {
      if (this.#knownDirs.has(dir)) return;
      const created = await mkdir(dir, { recursive: true });
      if (created !== undefined && this.#options.fsync) {
        for (let d = dir; ; d = dirname(d)) {
          this.#unsyncedDirs.set(d, dirname(d));
          if (d === created || d === this.#layout.root(kind)) break;
        }
      }
      this.#knownDirs.add(dir);
    });
  }

  /** The made directories on the way from `dir` up to the root whose parents still need a sync. */
  #syncPending(kind: ObjectKind, dir: string): [dir: string, parent: string][] {
    const pending: [string, string][] = [];
    if (this.#unsyncedDirs.size === 0) return pending;
    for (let d = dir; d !== this.#layout.root(kind) && d.length > this.dataDir.length; d = dirname(d)) {
      const parent = this.#unsyncedDirs.get(d);
      if (parent !== undefined) pending.push([d, parent]);
    }
    return pending;
  }

  #forget(kind: ObjectKind, size: number): void {
    this.#counts[kind]--;
    this.#storedBytes -= size;
  }
}

/** The first `max` distinct ids of two ascending lists, in order. */
function mergeSorted(a: string[], b: string[], max: number): string[] {
  if (b.length === 0) return a;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (out.length < max && (i < a.length || j < b.length)) {
    const next = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (out.at(-1) !== next) out.push(next);
  }
  return out;
}
