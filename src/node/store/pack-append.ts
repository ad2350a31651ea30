import { fdatasync, ftruncate } from "node:fs";
import { DfsError } from "../../errors.ts";
import { fsyncDir } from "./dir-sync.ts";
import { call, openFd, writeAll } from "./fsutil.ts";
import { Pack, packPath } from "./pack-file.ts";

/** A batch's size bounds, so a burst of writes does not become one giant syscall. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_BATCH_BUFFERS = 512;

export interface AppenderOptions {
  dir: string;
  /** fdatasync every batch before it is acknowledged. */
  fsync: boolean;
  /** A pack is sealed, and a new one started, once it holds this many bytes. */
  packBytes: number;
  /** The pack appended to: the log's newest. */
  current(): Pack;
  /** A pack was just created; it is the one appended to from now on. */
  started(pack: Pack): void;
  /** A pack reached packBytes and a newer one follows it. */
  sealed(pack: Pack): void;
}

/** Called once the item's batch is durable, with where its first byte landed. */
export type Apply = (pack: Pack, at: number) => void;

interface Pending {
  buffers: Buffer[];
  bytes: number;
  apply: Apply;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Appends records to the newest pack in group-committed batches: the records that arrive while
 * one batch is written and fdatasynced go out together in the next, one writev and one fdatasync
 * for all of them. A record is applied (put in the index) and acknowledged only once its batch is
 * durable; a batch that fails is cut off again, so the next one follows the last good record.
 */
export class PackAppender {
  readonly #options: AppenderOptions;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #batches = 0;
  #records = 0;
  #closed = false;

  constructor(options: AppenderOptions) {
    this.#options = options;
  }

  /** Batches written so far (fewer than the records they hold). */
  get batches(): number {
    return this.#batches;
  }

  /** Records appended so far (puts, removal records, and what compaction moved). */
  get records(): number {
    return this.#records;
  }

  /** Appends the buffers as one item of the next batch; resolves once it is durable and applied. */
  append(buffers: Buffer[], apply: Apply): Promise<void> {
    if (this.#closed) return Promise.reject(new DfsError("DFS_ERR_SHUTTING_DOWN", "the store is closed"));
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ buffers, bytes, apply, resolve, reject });
      // Appends made in this same tick join the first batch.
      this.#flushing ??= new Promise<void>((r) => queueMicrotask(r)).then(() => this.#flush());
    });
  }

  /** Creates pack `seq`, durable in its directory before anything in it is acknowledged. */
  async startPack(seq: number): Promise<void> {
    const fd = await openFd(packPath(this.#options.dir, seq), "wx+", 0o640);
    if (this.#options.fsync) await fsyncDir(this.#options.dir);
    this.#options.started(new Pack(seq, this.#options.dir, fd, 0));
  }

  /** Refuses new appends; resolves once the batches already queued are written. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#flushing ?? Promise.resolve();
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
    const pack = this.#options.current();
    const start = pack.end;
    const buffers = batch.flatMap((p) => p.buffers);
    try {
      let total = 0;
      for (const p of batch) total += p.bytes;
      await call((cb) => writeAll(pack.fd, buffers, total, start, cb));
      if (this.#options.fsync) await call((cb) => fdatasync(pack.fd, cb));
    } catch (err) {
      // Nothing of the batch is in the index. Cut it off so the next batch follows the last good
      // record; if even that fails, the next batch starts a new pack (its torn tail is ignored).
      // Then the writers hear of the failure: by then the pack holds nothing of their batch.
      await call((cb) => ftruncate(pack.fd, start, cb)).catch(() =>
        this.startPack(pack.seq + 1).catch(() => {}),
      );
      for (const p of batch) p.reject(err);
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
      await this.startPack(pack.seq + 1).catch(() => {}); // the full pack takes more until one can be made
      this.#options.sealed(pack);
    }
  }
}
