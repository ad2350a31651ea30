import { createHash, type Hash } from "node:crypto";
import { close, closeSync, fdatasync, read } from "node:fs";
import { Writable } from "node:stream";
import { DfsError, toDfsError } from "../../errors.ts";
import type { ObjectKind } from "../../formats/index.ts";
import { call, unlinkQuietly, writeAll } from "./fsutil.ts";
import type { ObjectWriter } from "./types.ts";

/**
 * Pieces queued before write() says "wait": a few socket reads, so the disk write of one piece
 * overlaps the hashing and arrival of the next, and _writev hands several to one syscall.
 */
const WRITER_HIGH_WATER_MARK = 1024 * 1024;

/** Bytes read per call when a `hashLater` body has to be hashed from its temp file. */
const READ_BACK_BYTES = 256 * 1024;

export interface WriterPlan {
  kind: ObjectKind;
  id: string;
  size: number;
  /** Hex SHA-256 the body must have: the id of a chunk, the checksum of a manifest. */
  expectedHash: string;
  /**
   * Skip the hash while the body arrives; commit() checks it only if the next node of the chain
   * did not vouch for the same bytes (ObjectWriter.commit).
   */
  hashLater?: boolean;
  /** The temp file the body goes to; absent when it goes to `copy` only (a pack's record). */
  file?: FileTarget;
  /** A buffer of `size` bytes the body is copied into as it is written (the cache, or the pack). */
  copy?: Buffer;
  /** Makes the verified body visible: renames the temp file, or appends `copy` to a pack. */
  publish(): Promise<void>;
  /** Called exactly once when the writer is done, committed or not. */
  settle(): void;
}

export interface FileTarget {
  tmpPath: string;
  /** Open for writing, empty. The writer owns it from now on. */
  fd: number;
  /** Bytes that go before the body (a manifest's header): sent with the first write, not hashed. */
  prefix?: Buffer;
  fsync: boolean;
}

/**
 * Streams one object into its temp file (or only into memory, for a pack), hashing each piece as
 * it arrives (the one hash pass over these bytes). Pieces go to the file as they are given: no
 * buffering of the whole. end() runs the commit (_final): size check, hash check, fdatasync,
 * publish. Any failure destroys the stream, and _destroy closes the file and removes it, so
 * nothing partial is ever visible.
 *
 * With `hashLater` (a node inside a chain) the hash waits for the commit: when the next node
 * stored the same bytes it has checked them against the id, and this node's pass would repeat its
 * work; when it did not, the bytes are read back (from the page cache, or the in-memory copy) and
 * hashed here, before anything is published.
 */
export class StoreWriter extends Writable implements ObjectWriter {
  readonly #plan: WriterPlan;
  readonly #hash: Hash = createHash("sha256");
  #fd: number;
  /** The plan's prefix until it is written: one write with the first piece, not a write of its own. */
  #prefix: Buffer | undefined;
  #received = 0;
  #committed = false;
  #failure: Error | undefined;
  /** A file operation is running on #fd; closing the fd under it could hit a reused descriptor. */
  #busy = false;
  #whenIdle: (() => void) | undefined;
  #commit: Promise<void> | undefined;
  #vouched: Promise<boolean> | undefined;
  #settled = false;

  constructor(plan: WriterPlan) {
    super({ highWaterMark: WRITER_HIGH_WATER_MARK, decodeStrings: true });
    this.#plan = plan;
    this.#fd = plan.file?.fd ?? -1;
    this.#prefix = plan.file?.prefix;
    // Failures surface through commit(); a stray 'error' with no listener must not end the process.
    this.on("error", () => {});
  }

  get bytesReceived(): number {
    return this.#received;
  }

  override _write(piece: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.#accept(piece.length, callback)) return;
    if (!this.#plan.hashLater) this.#hash.update(piece);
    this.#write([piece], piece.length, callback);
  }

  override _writev(
    pieces: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    let total = 0;
    for (const p of pieces) total += p.chunk.length;
    if (!this.#accept(total, callback)) return;
    const buffers = pieces.map((p) => p.chunk);
    if (!this.#plan.hashLater) for (const b of buffers) this.#hash.update(b);
    this.#write(buffers, total, callback);
  }

  #write(buffers: Buffer[], total: number, callback: (error?: Error | null) => void): void {
    const copy = this.#plan.copy;
    if (copy) {
      // #accept already counted these bytes: they end at #received.
      let at = this.#received - total;
      for (const b of buffers) at += b.copy(copy, at);
    }
    if (this.#fd < 0) return callback(null);
    const prefix = this.#prefix;
    this.#prefix = undefined;
    this.#busy = true;
    const all = prefix ? [prefix, ...buffers] : buffers;
    writeAll(this.#fd, all, total + (prefix?.length ?? 0), null, (err) => this.#opDone(err, callback));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#busy = true;
    this.#finish().then(
      () => this.#opDone(null, callback),
      (err: unknown) => this.#opDone(err as Error, callback),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) this.#failure ??= error;
    this.#idle()
      .then(() => this.#cleanup())
      .then(
        () => callback(error),
        (err: unknown) => callback(error ?? (err as Error)),
      );
  }

  commit(vouched?: Promise<boolean>): Promise<void> {
    if (!this.#commit) {
      this.#vouched = vouched?.catch(() => false);
      this.#commit = this.#awaitCommit();
    }
    return this.#commit;
  }

  async abort(reason?: Error): Promise<void> {
    if (!this.destroyed) {
      this.#failure ??= reason ?? new DfsError("DFS_ERR_CANCELLED", "write aborted");
      // No error argument: the reason is kept for commit(), not emitted as an 'error' event.
      this.destroy();
    }
    await this.#closed();
  }

  async #awaitCommit(): Promise<void> {
    if (!this.writableEnded && !this.destroyed) this.end();
    await this.#closed();
    if (!this.#committed) {
      throw toDfsError(this.#failure ?? new DfsError("DFS_ERR_CANCELLED", "write aborted"));
    }
  }

  /** Resolves once the stream is closed: committed, or failed and cleaned up. */
  #closed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.once("close", () => resolve()));
  }

  #accept(n: number, callback: (error?: Error | null) => void): boolean {
    if (this.#received + n > this.#plan.size) {
      callback(
        new DfsError("DFS_ERR_TOO_LARGE", `more bytes than the declared size of ${this.#plan.size}`, {
          details: { size: this.#plan.size },
        }),
      );
      return false;
    }
    this.#received += n;
    return true;
  }

  async #finish(): Promise<void> {
    const plan = this.#plan;
    if (this.#received !== plan.size) {
      throw new DfsError(
        "DFS_ERR_BAD_REQUEST",
        `object ended after ${this.#received} of its declared ${plan.size} bytes`,
      );
    }
    if (!plan.hashLater) this.#checkHash();
    if (this.#prefix) {
      // An empty body: the prefix still has to be written.
      const prefix = [this.#prefix];
      this.#prefix = undefined;
      await call((cb) => writeAll(this.#fd, prefix, prefix[0]!.length, null, cb));
    }
    if (plan.file) {
      // fdatasync is enough: it flushes the data and the size, the metadata needed to read it back.
      if (plan.file.fsync) await call((cb) => fdatasync(this.#fd, cb));
    }
    if (plan.hashLater && !(await this.#vouched)) {
      await this.#hashStored();
      this.#checkHash();
    }
    if (plan.file) {
      const fd = this.#fd;
      this.#fd = -1;
      // Synchronous: closing a regular file is a quick call (no I/O), cheaper than a pool round trip.
      closeSync(fd);
    }
    if (this.destroyed) throw this.#failure ?? new DfsError("DFS_ERR_CANCELLED", "write aborted");
    await plan.publish();
    this.#committed = true;
  }

  #checkHash(): void {
    const plan = this.#plan;
    if (this.#hash.digest("hex") !== plan.expectedHash) {
      const against = plan.kind === "chunk" ? "its id" : "its checksum";
      throw new DfsError("DFS_ERR_HASH_MISMATCH", `${plan.kind} ${plan.id}: bytes do not match ${against}`);
    }
  }

  /** Feeds the body as written to the hash: from the in-memory copy, else read back from the file. */
  async #hashStored(): Promise<void> {
    const plan = this.#plan;
    if (plan.copy) {
      this.#hash.update(plan.copy);
      return;
    }
    const buf = Buffer.allocUnsafe(Math.min(plan.size, READ_BACK_BYTES));
    let at = plan.file?.prefix?.length ?? 0;
    for (let left = plan.size; left > 0; ) {
      const n = await new Promise<number>((resolve, reject) =>
        read(this.#fd, buf, 0, Math.min(left, buf.length), at, (err, bytes) =>
          err ? reject(err) : resolve(bytes),
        ),
      );
      if (n === 0)
        throw new DfsError("DFS_ERR_INTERNAL", `${plan.kind} ${plan.id}: temp file shorter than written`);
      this.#hash.update(buf.subarray(0, n));
      at += n;
      left -= n;
    }
  }

  #opDone(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#busy = false;
    const waiter = this.#whenIdle;
    this.#whenIdle = undefined;
    waiter?.();
    callback(err ? toDfsError(err) : null);
  }

  #idle(): Promise<void> {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => {
      this.#whenIdle = resolve;
    });
  }

  async #cleanup(): Promise<void> {
    try {
      if (this.#fd >= 0) {
        const fd = this.#fd;
        this.#fd = -1;
        await call((cb) => close(fd, cb));
      }
      if (!this.#committed && this.#plan.file) await unlinkQuietly(this.#plan.file.tmpPath);
    } finally {
      if (!this.#settled) {
        this.#settled = true;
        this.#plan.settle();
      }
    }
  }
}
