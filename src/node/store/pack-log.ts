import { createHash } from "node:crypto";
import { closeSync, fdatasync, fstatSync, ftruncate, read } from "node:fs";
import { mkdir, readdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DfsError } from "../../errors.ts";
import type { ObjectKind } from "../../transport/api.ts";
import type { TokenBucket } from "../rate-limit.ts";
import { fsyncDir } from "./dir-sync.ts";
import { call, openFd, writeAll } from "./fsutil.ts";
import { type IndexEntry, PackIndex } from "./pack-index.ts";
import {
  decodeHeader,
  encodeHeader,
  hasMagic,
  RECORD_HEADER_BYTES,
  type RecordHeader,
} from "./pack-record.ts";
import { FileSource } from "./reader.ts";
import type { ObjectSource } from "./types.ts";

/*
 * Objects of at most 64 KiB live in pack files: append-only logs of records
 * (pack-record.ts), as in Haystack or SeaweedFS volumes. What it buys is group commit: the puts
 * and deletes that arrive while one batch is being written and fdatasynced go out together in the
 * next batch, one writev and one fdatasync for all of them, instead of a temp file, an fdatasync,
 * a rename and a directory fsync each. A 4 KiB object cost 350-1560 µs of CPU as a file here, 17-50 µs in a
 * pack (bench/store-small.ts).
 *
 *   packs/00000001.pack ...   records; the highest number is the one being appended to. A pack
 *                             is sealed at packBytes and a new one started.
 *
 * The index (which record holds each live object) is memory only, rebuilt on open by reading the
 * packs in order: a later record of an id wins, a tombstone removes it. Bytes that are not an
 * intact record are skipped to the next header that checks. The last pack may end in a torn batch
 * (a crash before its fdatasync): its bodies are hashed on open, records that do not check are
 * dropped, and a torn tail is cut off. A sealed pack held only synced batches when it was sealed,
 * so it is not re-hashed on open; scrub does that.
 *
 * Compaction: a sealed pack whose live records fill less than half of it has them copied to the
 * end of the log, under each object's lock, and is then deleted. Its tombstones are copied too,
 * unless it is the oldest pack (nothing older is left for them to hide). Each group of records
 * waits for its bytes from the node's background budget first (shared with repair and scrub), so
 * compacting a 64 MiB pack does not take the disk from foreground writes for as long as it runs.
 */

/** A batch's size bounds, so a burst of writes does not become one giant syscall. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_BATCH_BUFFERS = 512;
/** Reads at open go through a window this large; no record of a pack is larger. */
const SCAN_WINDOW_BYTES = 1024 * 1024;
export const PACK_RECORD_MAX_BODY = SCAN_WINDOW_BYTES - RECORD_HEADER_BYTES;
/** Objects compaction moves at once: they share a batch. */
const COMPACTION_GROUP = 64;
const PACK_NAME_RE = /^(\d{8})\.pack$/;

export interface PackLogOptions {
  dir: string;
  /** fdatasync every batch before it is acknowledged. */
  fsync: boolean;
  /** A pack is sealed, and a new one started, once it holds this many bytes. */
  packBytes: number;
  /** Bytes compaction takes before it moves them (the node's background budget); absent: no limit. */
  budget?: Pick<TokenBucket, "take">;
  /** Runs fn holding the object's lock (the store's): compaction moves an object only under it. */
  lock<T>(kind: ObjectKind, id: string, fn: () => Promise<T>): Promise<T>;
  /** Told of what open() dropped: torn tails, unreadable records. */
  warn?(message: string, details: Record<string, unknown>): void;
}

/** Where a live object's record is. */
export interface PackEntry {
  readonly pack: Pack;
  /** Offset of the record's header in its pack. */
  readonly at: number;
  readonly size: number;
  readonly writtenAt: number;
}

class Pack {
  readonly seq: number;
  readonly path: string;
  fd: number;
  /** End of the last whole record: where the next batch goes. */
  end: number;
  /** Bytes of the records the index points at. */
  live = 0;
  /** Keys of the tombstones in this pack. */
  readonly tombstones = new Set<string>();
  /** Reads in progress: the descriptor is closed only when none is left. */
  refs = 0;
  /** Being compacted: its objects are leaving, it is not queued again. */
  retiring = false;
  dropped = false;

  constructor(seq: number, path: string, fd: number, end: number) {
    this.seq = seq;
    this.path = path;
    this.fd = fd;
    this.end = end;
  }

  release(): void {
    if (--this.refs === 0 && this.dropped) this.#close();
  }

  drop(): void {
    this.dropped = true;
    if (this.refs === 0) this.#close();
  }

  #close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

interface Pending {
  buffers: Buffer[];
  bytes: number;
  /** Called once the batch is durable, with where this item's first byte landed. */
  apply(pack: Pack, at: number): void;
  resolve(): void;
  reject(err: unknown): void;
}

export class PackLog {
  readonly #options: PackLogOptions;
  /** Oldest first; the last is the one appended to. */
  readonly #packs: Pack[];
  readonly #index = new PackIndex();
  readonly #bySeq = new Map<number, Pack>();
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  readonly #toCompact = new Set<Pack>();
  #compacting: Promise<void> | undefined;
  #batches = 0;
  #records = 0;
  #compactions = 0;
  #loading = true;
  #closed = false;
  /** Aborted by close(), so compaction waiting for its budget stops at once. */
  readonly #closing = new AbortController();

  private constructor(options: PackLogOptions, packs: Pack[]) {
    this.#options = options;
    this.#packs = packs;
  }

  static async open(options: PackLogOptions): Promise<PackLog> {
    // A new packs/ must be durable in its parent before anything in it is acknowledged.
    const made = await mkdir(options.dir, { recursive: true });
    if (made !== undefined && options.fsync) await fsyncDir(dirname(options.dir));
    const names = (await readdir(options.dir)).filter((n) => PACK_NAME_RE.test(n)).sort();
    const log = new PackLog(options, []);
    try {
      for (const [i, name] of names.entries()) {
        await log.#load(Number(PACK_NAME_RE.exec(name)![1]), i === names.length - 1);
      }
      if (log.#packs.length === 0) await log.#startPack(1);
      log.#loading = false;
      for (const pack of log.#packs.slice(0, -1)) log.#consider(pack);
    } catch (err) {
      for (const p of log.#packs) p.drop();
      throw err;
    }
    return log;
  }

  /** Batches written so far (tests and metrics: fewer than the records they hold). */
  get batches(): number {
    return this.#batches;
  }

  get packCount(): number {
    return this.#packs.length;
  }

  /** Records appended so far (puts, tombstones, and what compaction moved). */
  get records(): number {
    return this.#records;
  }

  /** Sealed packs rewritten and deleted so far. */
  get compactions(): number {
    return this.#compactions;
  }

  /** Bytes in the packs, and the bytes of the live records among them. */
  get bytes(): { total: number; live: number } {
    let total = 0;
    let live = 0;
    for (const p of this.#packs) {
      total += p.end;
      live += p.live;
    }
    return { total, live };
  }

  get(kind: ObjectKind, id: string): PackEntry | undefined {
    const e = this.#index.get(kind, id);
    return e && { pack: this.#bySeq.get(e.pack)!, at: e.at, size: e.size, writtenAt: e.writtenAt };
  }

  /** Live objects of a kind and the sum of their body sizes. */
  count(kind: ObjectKind): { count: number; bytes: number } {
    return this.#index.count(kind);
  }

  /** Ids of a kind in ascending order, strictly after `after`, at most `max`. */
  ids(kind: ObjectKind, after: string, max: number): string[] {
    return this.#index.ids(kind, after, max);
  }

  /** Appends the object; resolves once it is durable and in the index. `body` must stay unchanged until then. */
  put(kind: ObjectKind, id: string, checksum: string, body: Buffer): Promise<void> {
    if (body.length > PACK_RECORD_MAX_BODY) {
      throw new DfsError("DFS_ERR_INTERNAL", `a pack record holds at most ${PACK_RECORD_MAX_BODY} bytes`);
    }
    const writtenAt = Date.now();
    const header = encodeHeader({ op: "put", kind, id, checksum, length: body.length, writtenAt });
    return this.#append([header, body], (pack, at) =>
      this.#setEntry(kind, id, { pack, at, size: body.length, writtenAt }),
    );
  }

  /** Appends a tombstone; false when the object is not here. The caller holds the object's lock. */
  async remove(kind: ObjectKind, id: string): Promise<boolean> {
    if (this.#index.get(kind, id) === undefined) return false;
    await this.#appendTombstone(kind, id);
    return true;
  }

  /** The whole body of a live entry. */
  async readBody(entry: PackEntry): Promise<Buffer> {
    const body = Buffer.allocUnsafe(entry.size);
    await this.#readAt(entry.pack, body, entry.at + RECORD_HEADER_BYTES);
    return body;
  }

  /** [offset, offset+count) of a live entry's body, read into the caller's buffers; close() when done. */
  source(entry: PackEntry, offset: number, count: number): ObjectSource {
    const pack = entry.pack;
    pack.refs++;
    const position = entry.at + RECORD_HEADER_BYTES + offset;
    return new FileSource(pack.fd, position, count, () => pack.release());
  }

  /**
   * Re-hashes a live entry's record through `scratch` (a reused buffer): its header must check and
   * name this object, and its body hash to the checksum it carries (a chunk's: its id).
   */
  async verify(kind: ObjectKind, id: string, entry: PackEntry, scratch: Buffer): Promise<boolean> {
    const head = scratch.subarray(0, RECORD_HEADER_BYTES);
    await this.#readAt(entry.pack, head, entry.at);
    const header = decodeHeader(head);
    if (header?.op !== "put" || header.kind !== kind || header.id !== id) return false;
    if (header.length !== entry.size || (kind === "chunk" && header.checksum !== id)) return false;
    const hash = createHash("sha256");
    const body = this.source(entry, 0, entry.size);
    try {
      for (let n = await body.read(scratch); n > 0; n = await body.read(scratch)) {
        hash.update(scratch.subarray(0, n));
      }
    } finally {
      await body.close();
    }
    return hash.digest("hex") === header.checksum;
  }

  /** The record of a live entry as it is on disk, header and body (verify, quarantine, compaction). */
  async readRecord(
    entry: PackEntry,
  ): Promise<{ raw: Buffer; header: RecordHeader | undefined; body: Buffer }> {
    const raw = Buffer.allocUnsafe(RECORD_HEADER_BYTES + entry.size);
    await this.#readAt(entry.pack, raw, entry.at);
    return { raw, header: decodeHeader(raw), body: raw.subarray(RECORD_HEADER_BYTES) };
  }

  /** Stops compaction, waits for the batch being written, closes the packs. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    await this.#compacting;
    await this.#flushing;
    for (const p of this.#packs) p.drop();
  }

  // --- appending -------------------------------------------------------------------------------

  #appendTombstone(kind: ObjectKind, id: string): Promise<void> {
    const header = encodeHeader({ op: "delete", kind, id, checksum: "", length: 0, writtenAt: Date.now() });
    return this.#append([header], (pack) => {
      this.#deleteEntry(kind, id);
      pack.tombstones.add(keyOf(kind, id));
    });
  }

  #append(buffers: Buffer[], apply: Pending["apply"]): Promise<void> {
    if (this.#closed) return Promise.reject(new DfsError("DFS_ERR_SHUTTING_DOWN", "the store is closed"));
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ buffers, bytes, apply, resolve, reject });
      // Appends made in this same tick join the first batch.
      this.#flushing ??= new Promise<void>((r) => queueMicrotask(r)).then(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#writeBatch(this.#takeBatch());
    } finally {
      this.#flushing = undefined;
    }
  }

  #takeBatch(): Pending[] {
    let bytes = 0;
    let buffers = 0;
    let n = 0;
    for (const p of this.#queue) {
      if (n > 0 && (bytes + p.bytes > MAX_BATCH_BYTES || buffers + p.buffers.length > MAX_BATCH_BUFFERS))
        break;
      bytes += p.bytes;
      buffers += p.buffers.length;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    const pack = this.#packs.at(-1)!;
    const start = pack.end;
    const buffers = batch.flatMap((p) => p.buffers);
    try {
      let total = 0;
      for (const p of batch) total += p.bytes;
      await call((cb) => writeAll(pack.fd, buffers, total, start, cb));
      if (this.#options.fsync) await call((cb) => fdatasync(pack.fd, cb));
    } catch (err) {
      for (const p of batch) p.reject(err);
      // Nothing of the batch is in the index. Cut it off so the next batch follows the last good
      // record; if even that fails, the next batch starts a new pack (its torn tail is ignored).
      await call((cb) => ftruncate(pack.fd, start, cb)).catch(() =>
        this.#startPack(pack.seq + 1).catch(() => {}),
      );
      return;
    }
    this.#batches++;
    this.#records += batch.length;
    let at = start;
    for (const p of batch) {
      p.apply(pack, at);
      at += p.bytes;
    }
    pack.end = at;
    for (const p of batch) p.resolve();
    if (pack.end >= this.#options.packBytes) {
      await this.#startPack(pack.seq + 1).catch(() => {}); // the full pack takes more until one can be made
      this.#consider(pack);
    }
  }

  async #startPack(seq: number): Promise<void> {
    const path = join(this.#options.dir, packName(seq));
    const fd = await openFd(path, "wx+", 0o640);
    // The new file's entry must be durable before records in it are acknowledged.
    if (this.#options.fsync) await fsyncDir(this.#options.dir);
    this.#addPack(new Pack(seq, path, fd, 0));
  }

  // --- the index -------------------------------------------------------------------------------

  #addPack(pack: Pack): void {
    this.#packs.push(pack);
    this.#bySeq.set(pack.seq, pack);
  }

  #setEntry(kind: ObjectKind, id: string, entry: PackEntry): void {
    const { pack, at, size, writtenAt } = entry;
    this.#forgetRecord(this.#index.set(kind, id, { pack: pack.seq, at, size, writtenAt }));
    pack.live += RECORD_HEADER_BYTES + size;
  }

  #deleteEntry(kind: ObjectKind, id: string): void {
    this.#forgetRecord(this.#index.delete(kind, id));
  }

  /** A record no longer live: its pack may now be worth compacting. */
  #forgetRecord(old: IndexEntry | undefined): void {
    if (old === undefined) return;
    const pack = this.#bySeq.get(old.pack)!;
    pack.live -= RECORD_HEADER_BYTES + old.size;
    this.#consider(pack);
  }

  // --- reading at open -------------------------------------------------------------------------

  /**
   * Reads one pack into the index. Bytes that are not a record (rot, or a batch torn by a crash)
   * are skipped up to the next intact header, and reported. In the last pack, where a batch may
   * have been torn, bodies are hashed too, and a torn tail is cut off so appends follow the last
   * whole record. A record is dropped, never trusted, when it does not check.
   */
  async #load(seq: number, last: boolean): Promise<void> {
    const path = join(this.#options.dir, packName(seq));
    const pack = new Pack(seq, path, await openFd(path, "r+", 0), 0);
    this.#addPack(pack);
    const fileSize = fstatSync(pack.fd).size;
    const window = Buffer.allocUnsafe(SCAN_WINDOW_BYTES);
    let base = 0; // the file offset of window[0]
    let filled = 0;
    let at = 0;
    let end = 0; // the end of the last whole record
    let skipFrom = -1; // where the bytes being skipped began
    const skipped: { at: number; bytes: number; found: string }[] = [];
    let found = "";
    for (;;) {
      let rel = at - base;
      if (filled - rel < RECORD_HEADER_BYTES + lengthAt(window, rel, filled)) {
        window.copy(window, 0, rel, filled);
        filled -= rel;
        base = at;
        rel = 0;
        filled += await readAt(pack.fd, window.subarray(filled), base + filled);
        if (filled === 0) break;
      }
      const header = decodeHeader(window.subarray(0, filled), rel);
      const bodyAt = rel + RECORD_HEADER_BYTES;
      const whole =
        header !== undefined && header.length <= PACK_RECORD_MAX_BODY && bodyAt + header.length <= filled;
      if (!whole) {
        if (skipFrom < 0) {
          skipFrom = at;
          found = header === undefined ? "no intact record header" : "a record cut short";
        }
        at++;
        continue;
      }
      if (skipFrom >= 0) {
        skipped.push({ at: skipFrom, bytes: at - skipFrom, found });
        skipFrom = -1;
      }
      const size = RECORD_HEADER_BYTES + header.length;
      const body = window.subarray(bodyAt, bodyAt + header.length);
      if (
        last &&
        header.op === "put" &&
        createHash("sha256").update(body).digest("hex") !== header.checksum
      ) {
        skipped.push({ at, bytes: size, found: "a body that does not match its hash" });
      } else {
        if (header.op === "put") {
          this.#setEntry(header.kind, header.id, {
            pack,
            at,
            size: header.length,
            writtenAt: header.writtenAt,
          });
        } else {
          this.#deleteEntry(header.kind, header.id);
          pack.tombstones.add(keyOf(header.kind, header.id));
        }
      }
      at += size;
      end = at;
    }
    pack.end = last ? end : fileSize;
    for (const gap of skipped)
      this.#options.warn?.("pack bytes that are not a record were skipped", { pack: path, ...gap });
    if (end === fileSize) return;
    this.#options.warn?.("a pack ends in bytes that are not a whole record", {
      pack: path,
      at: end,
      bytes: fileSize - end,
      found,
      cut: last,
    });
    if (last) {
      await call((cb) => ftruncate(pack.fd, end, cb));
      if (this.#options.fsync) await call((cb) => fdatasync(pack.fd, cb));
    }
  }

  // --- compaction ------------------------------------------------------------------------------

  /** Queues a sealed pack for compaction once less than half of it is live. */
  #consider(pack: Pack): void {
    if (this.#loading || pack === this.#packs.at(-1) || pack.retiring || pack.dropped) return;
    if (pack.live > 0 && pack.live * 2 >= pack.end) return;
    this.#toCompact.add(pack);
    this.#compacting ??= this.#compactAll().finally(() => {
      this.#compacting = undefined;
    });
  }

  async #compactAll(): Promise<void> {
    // Let the write that made the pack eligible finish first.
    await new Promise((r) => setImmediate(r));
    for (const pack of this.#toCompact) {
      this.#toCompact.delete(pack);
      if (this.#closed) return;
      try {
        await this.#compact(pack);
      } catch (err) {
        this.#options.warn?.("compaction of a pack failed; it is kept", {
          pack: pack.path,
          error: String(err),
        });
      }
    }
  }

  async #compact(pack: Pack): Promise<void> {
    pack.retiring = true;
    // Moves in groups, so that they share batches (one fdatasync per group, not per object).
    const moveLive = async ({ kind, id }: ObjectRef) => {
      await this.#options.lock(kind, id, async () => {
        const entry = this.get(kind, id);
        if (entry?.pack !== pack) return;
        const { raw } = await this.readRecord(entry);
        await this.#append([raw], (to, at) => this.#setEntry(kind, id, { ...entry, pack: to, at }));
      });
    };
    // A tombstone hides older records of its id; with no older pack left there are none.
    const moveTombstone = async ({ kind, id }: ObjectRef) => {
      await this.#options.lock(kind, id, async () => {
        if (this.get(kind, id) === undefined) await this.#appendTombstone(kind, id);
      });
    };
    const live = this.#index.inPack(pack.seq);
    const tombstones = this.#packs[0] === pack ? [] : [...pack.tombstones].map(splitKey);
    for (const [keys, move] of [
      [live, moveLive],
      [tombstones, moveTombstone],
    ] as const) {
      for (let i = 0; i < keys.length; i += COMPACTION_GROUP) {
        const group = keys.slice(i, i + COMPACTION_GROUP);
        if (!(await this.#budgetFor(group))) return;
        await Promise.all(group.map(move));
      }
    }
    const index = this.#packs.indexOf(pack);
    if (this.#closed || index < 0) return;
    this.#packs.splice(index, 1);
    this.#bySeq.delete(pack.seq);
    pack.drop();
    this.#compactions++;
    await unlink(pack.path);
    // A pack that came back after a crash would bring back objects deleted since.
    if (this.#options.fsync) await fsyncDir(this.#options.dir);
  }

  /** Waits until the background budget allows moving these records; false once the log is closing. */
  async #budgetFor(group: readonly ObjectRef[]): Promise<boolean> {
    if (this.#closed) return false;
    const budget = this.#options.budget;
    if (!budget) return true;
    let bytes = 0;
    for (const { kind, id } of group) bytes += RECORD_HEADER_BYTES + (this.get(kind, id)?.size ?? 0);
    try {
      await budget.take(bytes, this.#closing.signal);
    } catch (err) {
      if (this.#closed) return false;
      throw err;
    }
    return !this.#closed;
  }

  async #readAt(pack: Pack, into: Buffer, position: number): Promise<void> {
    pack.refs++;
    try {
      if ((await readAt(pack.fd, into, position)) < into.length) {
        throw new DfsError("DFS_ERR_CORRUPT", `${pack.path} ends inside the record at ${position}`);
      }
    } finally {
      pack.release();
    }
  }
}

function keyOf(kind: ObjectKind, id: string): string {
  return (kind === "chunk" ? "c" : "m") + id;
}

interface ObjectRef {
  kind: ObjectKind;
  id: string;
}

function splitKey(key: string): ObjectRef {
  return { kind: key[0] === "c" ? "chunk" : "manifest", id: key.slice(1) };
}

function packName(seq: number): string {
  return `${String(seq).padStart(8, "0")}.pack`;
}

/** The body length in what may be a header at `at`, only to size a read (0 unless it starts like one). */
function lengthAt(window: Buffer, at: number, filled: number): number {
  if (filled - at < RECORD_HEADER_BYTES || !hasMagic(window, at)) return 0;
  return Math.min(window.readUInt32LE(at + 72), PACK_RECORD_MAX_BODY);
}

/** Fills `into` from `position` until it is full or the file ends; resolves how many bytes. */
async function readAt(fd: number, into: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < into.length) {
    const n = await new Promise<number>((resolve, reject) =>
      read(fd, into, done, into.length - done, position + done, (err, bytes) =>
        err ? reject(err) : resolve(bytes),
      ),
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}
