import { unlink } from "node:fs/promises";
import type { ObjectKind } from "../../formats/index.ts";
import type { TokenBucket } from "../rate-limit.ts";
import { fsyncDir } from "./dir-sync.ts";
import { type ObjectRef, type Pack, type PackEntry, splitKey } from "./pack-file.ts";
import { recordBytes } from "./pack-record.ts";

/** Objects compaction moves at once: they share a batch. */
const COMPACTION_GROUP = 64;

/** What compaction needs of the pack log. */
export interface CompactedLog {
  /** Oldest first; the last is the one appended to. */
  readonly packs: readonly Pack[];
  get(kind: ObjectKind, id: string): PackEntry | undefined;
  /** The live objects whose records are in `pack`. */
  liveIn(pack: Pack): ObjectRef[];
  /** Appends the entry's record again, unchanged, and points the index at the copy. */
  rewrite(kind: ObjectKind, id: string, entry: PackEntry): Promise<void>;
  appendRemoval(kind: ObjectKind, id: string): Promise<void>;
  /** Takes a pack out of the log and closes it; false when it is no longer there. */
  retire(pack: Pack): boolean;
}

export interface CompactorOptions {
  dir: string;
  fsync: boolean;
  /** Bytes compaction takes before it moves them (the node's background budget); absent: no limit. */
  budget?: Pick<TokenBucket, "take">;
  /** Runs fn holding the object's lock (the store's): compaction moves an object only under it. */
  lock<T>(kind: ObjectKind, id: string, fn: () => Promise<T>): Promise<T>;
  warn?(message: string, details: Record<string, unknown>): void;
}

/**
 * Compaction: a sealed pack whose live records fill less than half of it has them copied to the
 * end of the log, under each object's lock, and is then deleted. Its removal records are copied
 * too, unless it is the oldest pack (nothing older is left for them to hide). Each group of
 * records waits for its bytes from the node's background budget first (shared with repair and
 * scrub), so compacting a 64 MiB pack does not take the disk from foreground writes for as long
 * as it runs.
 */
export class PackCompactor {
  readonly #log: CompactedLog;
  readonly #options: CompactorOptions;
  readonly #queued = new Set<Pack>();
  #running: Promise<void> | undefined;
  #compactions = 0;
  #closed = false;
  /** Aborted by close(), so compaction waiting for its budget stops at once. */
  readonly #closing = new AbortController();

  constructor(log: CompactedLog, options: CompactorOptions) {
    this.#log = log;
    this.#options = options;
  }

  /** Sealed packs rewritten and deleted so far. */
  get compactions(): number {
    return this.#compactions;
  }

  /** Queues a sealed pack for compaction once less than half of it is live. */
  consider(pack: Pack): void {
    if (this.#closed || pack === this.#log.packs.at(-1) || pack.retiring || pack.dropped) return;
    if (pack.live > 0 && pack.live * 2 >= pack.end) return;
    this.#queued.add(pack);
    this.#running ??= this.#compactAll().finally(() => {
      this.#running = undefined;
    });
  }

  /** Stops compaction; resolves once the pack being compacted, if any, is left. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    await this.#running;
  }

  async #compactAll(): Promise<void> {
    // Let the write that made the pack eligible finish first.
    await new Promise((r) => setImmediate(r));
    for (const pack of this.#queued) {
      this.#queued.delete(pack);
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
    const log = this.#log;
    const { lock } = this.#options;
    pack.retiring = true;
    const moveLive = ({ kind, id }: ObjectRef) =>
      lock(kind, id, async () => {
        const entry = log.get(kind, id);
        if (entry?.pack === pack) await log.rewrite(kind, id, entry);
      });
    // A removal record hides older records of its id; with no older pack left there are none.
    const moveRemoval = ({ kind, id }: ObjectRef) =>
      lock(kind, id, async () => {
        if (log.get(kind, id) === undefined) await log.appendRemoval(kind, id);
      });
    const removals = log.packs[0] === pack ? [] : [...pack.removals].map(splitKey);
    for (const [refs, move] of [
      [log.liveIn(pack), moveLive],
      [removals, moveRemoval],
    ] as const) {
      // In groups, so that the moves share batches (one fdatasync per group, not per object).
      for (let i = 0; i < refs.length; i += COMPACTION_GROUP) {
        const group = refs.slice(i, i + COMPACTION_GROUP);
        if (!(await this.#budgetFor(group))) return;
        await Promise.all(group.map(move));
      }
    }
    if (this.#closed || !log.retire(pack)) return;
    this.#compactions++;
    await unlink(pack.path);
    // A pack that came back after a crash would bring back objects deleted since.
    if (this.#options.fsync) await fsyncDir(this.#options.dir);
  }

  /** Waits until the background budget allows moving these records; false once closing. */
  async #budgetFor(group: readonly ObjectRef[]): Promise<boolean> {
    if (this.#closed) return false;
    const budget = this.#options.budget;
    if (!budget) return true;
    let bytes = 0;
    for (const { kind, id } of group) bytes += recordBytes(this.#log.get(kind, id)?.size ?? 0);
    try {
      await budget.take(bytes, this.#closing.signal);
    } catch (err) {
      if (this.#closed) return false;
      throw err;
    }
    return !this.#closed;
  }
}
