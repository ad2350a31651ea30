import { createHash } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { DfsError } from "../../errors.ts";
import type { ObjectKind, ObjectSource } from "../../formats/index.ts";
import type { TokenBucket } from "../rate-limit.ts";
import { fsyncDir } from "./dir-sync.ts";
import { openFd } from "./fsutil.ts";
import type { ObjectLayout, Staged, StageRequest } from "./object-layout.ts";
import { type Apply, PackAppender } from "./pack-append.ts";
import { type CompactedLog, PackCompactor } from "./pack-compact.ts";
import { type ObjectRef, objectKey, Pack, type PackEntry, packPath, packSeq } from "./pack-file.ts";
import { type IndexEntry, PackIndex } from "./pack-index.ts";
import {
  bodyAt,
  decodeHeader,
  encodeHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAX_BODY,
  type RecordHeader,
  recordBody,
  recordBytes,
  recordChecksum,
} from "./pack-record.ts";
import { scanPack } from "./pack-scan.ts";
import { checkRange, FileSource, memorySource, type OpenedSource, type ReadRange } from "./reader.ts";
import type { StoreChanges } from "./types.ts";

/*
 * Objects of at most 64 KiB live in pack files: append-only logs of records (pack-record.ts), as
 * in Haystack or SeaweedFS volumes. What it buys is group commit (pack-append.ts): the puts and
 * removals that arrive while one batch is being written go out together in the next, one writev
 * and one fdatasync for all of them, instead of a temp file, an fdatasync, a rename and a
 * directory fsync each. A 4 KiB object cost 350-1560 µs of CPU as a file here, 17-50 µs in a pack
 * (bench/store-small.ts).
 *
 *   packs/00000001.pack ...   records; the highest number is the one being appended to. A pack
 *                             is sealed at packBytes and a new one started.
 *
 * The index (which record holds each live object) is memory only, rebuilt on open by the recovery
 * scan (pack-scan.ts) of the packs in order: a later record of an id wins, a removal record
 * removes it. A sealed pack held only synced batches when it was sealed, so it is not re-hashed on
 * open; scrub does that. Sealed packs mostly dead are compacted (pack-compact.ts).
 */

/**
 * What lookups of an object the packs do not hold resolve: one shared promise, so a read of a file
 * pays no async call here for asking the packs first.
 */
const NOT_HERE: Promise<undefined> = Promise.resolve(undefined);
/** A packed object is durable once place() resolves: its batch was fdatasynced. */
const DURABLE: Promise<void> = Promise.resolve();

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
  /** Told of what open() dropped (torn tails, unreadable records) and of failed compactions. */
  warn?(message: string, details: Record<string, unknown>): void;
  /** Told of every record the recovery scan applies (the store's own changes it reports itself). */
  changes?: StoreChanges;
}

export class PackLog implements ObjectLayout, CompactedLog {
  readonly needsCopy = true;
  readonly #packs: Pack[] = [];
  readonly #index = new PackIndex();
  readonly #bySeq = new Map<number, Pack>();
  readonly #appender: PackAppender;
  readonly #compactor: PackCompactor;
  readonly #changes: StoreChanges | undefined;
  #loading = true;

  private constructor(options: PackLogOptions) {
    this.#appender = new PackAppender({
      ...options,
      current: () => this.#packs.at(-1)!,
      started: (pack) => this.#addPack(pack),
      sealed: (pack) => this.#compactor.consider(pack),
    });
    this.#compactor = new PackCompactor(this, options);
    this.#changes = options.changes;
  }

  /** Oldest first; the last is the one appended to. */
  get packs(): readonly Pack[] {
    return this.#packs;
  }

  static async open(options: PackLogOptions): Promise<PackLog> {
    // A new packs/ must be durable in its parent before anything in it is acknowledged.
    const made = await mkdir(options.dir, { recursive: true });
    if (made !== undefined && options.fsync) await fsyncDir(dirname(options.dir));
    const seqs = (await readdir(options.dir)).map(packSeq).filter((s) => s !== undefined);
    seqs.sort((a, b) => a - b);
    const log = new PackLog(options);
    try {
      for (const [i, seq] of seqs.entries()) {
        const pack = new Pack(seq, options.dir, await openFd(packPath(options.dir, seq), "r+", 0), 0);
        log.#addPack(pack);
        await scanPack(pack, i === seqs.length - 1, options, (h, at) => log.#found(pack, h, at));
      }
      if (log.packs.length === 0) await log.#appender.startPack(1);
      log.#loading = false;
      for (const pack of log.packs.slice(0, -1)) log.#compactor.consider(pack);
    } catch (err) {
      for (const p of log.packs) p.drop();
      throw err;
    }
    return log;
  }

  /** The packs' state now and their totals since open, for the store's counters. */
  get stats(): {
    files: number;
    bytes: number;
    liveBytes: number;
    batches: number;
    records: number;
    compactions: number;
  } {
    let bytes = 0;
    let liveBytes = 0;
    for (const p of this.packs) {
      bytes += p.end;
      liveBytes += p.live;
    }
    const { batches, records } = this.#appender;
    return {
      files: this.packs.length,
      bytes,
      liveBytes,
      batches,
      records,
      compactions: this.#compactor.compactions,
    };
  }

  get(kind: ObjectKind, id: string): PackEntry | undefined {
    const e = this.#index.get(kind, id);
    return e && { pack: this.#bySeq.get(e.pack)!, at: e.at, size: e.size, writtenAt: e.writtenAt };
  }

  // --- ObjectLayout ----------------------------------------------------------------------------

  /** Nothing to open: the body collects in `copy`, and place() appends it. */
  stage({ kind, id, size, checksum, copy }: StageRequest): Promise<Staged> {
    if (copy === undefined || size > RECORD_MAX_BODY) {
      const why = `a pack record holds a body of at most ${RECORD_MAX_BODY} bytes, from memory`;
      return Promise.reject(new DfsError("DFS_ERR_INTERNAL", why));
    }
    return Promise.resolve({
      diskBytes: recordBytes(size),
      place: () => this.#put(kind, id, checksum, copy),
      durable: () => DURABLE,
    });
  }

  sizeNow(kind: ObjectKind, id: string): number | undefined {
    return this.#index.get(kind, id)?.size;
  }

  stat(kind: ObjectKind, id: string): Promise<{ size: number; writtenAt: number } | undefined> {
    const e = this.#index.get(kind, id);
    return e ? Promise.resolve({ size: e.size, writtenAt: e.writtenAt }) : NOT_HERE;
  }

  open(kind: ObjectKind, id: string, range: ReadRange): Promise<OpenedSource | undefined> {
    const entry = this.get(kind, id);
    return entry ? this.#open(kind, id, entry, range) : NOT_HERE;
  }

  async #open(kind: ObjectKind, id: string, entry: PackEntry, range: ReadRange): Promise<OpenedSource> {
    const { offset = 0, length, wholeUpTo = -1 } = range;
    if (entry.size > 0 && entry.size <= wholeUpTo) {
      const whole = Buffer.allocUnsafe(entry.size);
      await entry.pack.readFully(whole, bodyAt(entry.at));
      return { ...memorySource(whole, kind, id, offset, length), whole };
    }
    const count = checkRange(kind, id, entry.size, offset, length);
    return { size: entry.size, length: count, source: this.#source(entry, offset, count) };
  }

  async remove(kind: ObjectKind, id: string): Promise<number | undefined> {
    const size = this.sizeNow(kind, id);
    if (size === undefined) return undefined;
    await this.appendRemoval(kind, id);
    return size;
  }

  /** Written out as the file it would be: a manifest's checksum (as its record holds it), the body. */
  async quarantine(kind: ObjectKind, id: string, to: string): Promise<number | undefined> {
    const entry = this.get(kind, id);
    if (entry === undefined) return undefined;
    const raw = Buffer.allocUnsafe(recordBytes(entry.size));
    await entry.pack.readFully(raw, entry.at);
    const prefix = kind === "manifest" ? [recordChecksum(raw)] : [];
    await writeFile(to, [...prefix, recordBody(raw)]);
    await this.appendRemoval(kind, id);
    return entry.size;
  }

  /** The record's header must check and name this object, and its body hash to the checksum it carries. */
  async verify(kind: ObjectKind, id: string, scratch: Buffer): Promise<boolean | undefined> {
    const entry = this.get(kind, id);
    if (entry === undefined) return undefined;
    const head = scratch.subarray(0, RECORD_HEADER_BYTES);
    await entry.pack.readFully(head, entry.at);
    const header = decodeHeader(head);
    if (header?.op !== "put" || header.kind !== kind || header.id !== id) return false;
    if (header.length !== entry.size || (kind === "chunk" && header.checksum !== id)) return false;
    const hash = createHash("sha256");
    const body = this.#source(entry, 0, entry.size);
    try {
      for (let n = await body.read(scratch); n > 0; n = await body.read(scratch)) {
        hash.update(scratch.subarray(0, n));
      }
    } finally {
      await body.close();
    }
    return hash.digest("hex") === header.checksum;
  }

  async list(kind: ObjectKind, after: string, max: number): Promise<string[]> {
    return this.#index.ids(kind, after, max);
  }

  async count(kind: ObjectKind): Promise<{ count: number; bytes: number }> {
    return this.#index.count(kind);
  }

  /** Stops compaction, waits for the batches queued, closes the packs. */
  async close(): Promise<void> {
    const flushed = this.#appender.close();
    await this.#compactor.close();
    await flushed;
    for (const p of this.packs) p.drop();
  }

  // --- CompactedLog ----------------------------------------------------------------------------

  liveIn(pack: Pack): ObjectRef[] {
    return this.#index.inPack(pack.seq);
  }

  async rewrite(kind: ObjectKind, id: string, entry: PackEntry): Promise<void> {
    const raw = Buffer.allocUnsafe(recordBytes(entry.size));
    await entry.pack.readFully(raw, entry.at);
    await this.#appender.append([raw], (to, at) => this.#setEntry(kind, id, { ...entry, pack: to, at }));
  }

  /** Appends a removal record of kind/id. The caller holds the object's lock. */
  appendRemoval(kind: ObjectKind, id: string): Promise<void> {
    const header = encodeHeader({ op: "remove", kind, id, checksum: "", length: 0, writtenAt: Date.now() });
    return this.#appender.append([header], (pack) => this.#removed(pack, kind, id));
  }

  retire(pack: Pack): boolean {
    const index = this.#packs.indexOf(pack);
    if (index < 0) return false;
    this.#packs.splice(index, 1);
    this.#bySeq.delete(pack.seq);
    pack.drop();
    return true;
  }

  // --- the index -------------------------------------------------------------------------------

  /** Appends the object; resolves once it is durable and in the index. `body` must stay unchanged until then. */
  #put(kind: ObjectKind, id: string, checksum: string, body: Buffer): Promise<void> {
    const writtenAt = Date.now();
    const header = encodeHeader({ op: "put", kind, id, checksum, length: body.length, writtenAt });
    const apply: Apply = (pack, at) => this.#setEntry(kind, id, { pack, at, size: body.length, writtenAt });
    return this.#appender.append([header, body], apply);
  }

  /** [offset, offset+count) of a live entry's body, read into the caller's buffers; close() when done. */
  #source(entry: PackEntry, offset: number, count: number): ObjectSource {
    const pack = entry.pack;
    pack.refs++;
    return new FileSource(pack.fd, bodyAt(entry.at) + offset, count, () => pack.release());
  }

  /** A record the recovery scan found intact. */
  #found(pack: Pack, h: RecordHeader, at: number): void {
    if (h.op === "put") {
      this.#setEntry(h.kind, h.id, { pack, at, size: h.length, writtenAt: h.writtenAt });
      this.#changes?.held(h.kind, h.id, h.checksum);
    } else {
      const held = this.#index.get(h.kind, h.id) !== undefined;
      this.#removed(pack, h.kind, h.id);
      if (held) this.#changes?.gone(h.kind, h.id);
    }
  }

  #addPack(pack: Pack): void {
    this.#packs.push(pack);
    this.#bySeq.set(pack.seq, pack);
  }

  #setEntry(kind: ObjectKind, id: string, entry: PackEntry): void {
    const { pack, at, size, writtenAt } = entry;
    this.#forgetRecord(this.#index.set(kind, id, { pack: pack.seq, at, size, writtenAt }));
    pack.live += recordBytes(size);
  }

  #removed(pack: Pack, kind: ObjectKind, id: string): void {
    this.#forgetRecord(this.#index.delete(kind, id));
    pack.removals.add(objectKey(kind, id));
  }

  /** A record no longer live: its pack may now be worth compacting. */
  #forgetRecord(old: IndexEntry | undefined): void {
    if (old === undefined) return;
    const pack = this.#bySeq.get(old.pack)!;
    pack.live -= recordBytes(old.size);
    if (!this.#loading) this.#compactor.consider(pack);
  }
}
