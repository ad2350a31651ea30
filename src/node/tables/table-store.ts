import { type Database, open, type RootDatabase } from "lmdb";
import { DfsError, toDfsError } from "../../errors.ts";
import {
  type ApplyResult,
  checkRecord,
  compareRecords,
  type HybridClock,
  hlcMs,
  hlcOf,
  type TableRecord,
} from "../../formats/index.ts";
import { recordPartition, recordPlacementId } from "../../placement/index.ts";
import {
  decodeKey,
  decodeStored,
  encodeStored,
  type KeyParts,
  partitionPrefix,
  prefixEnd,
  recordPrefix,
  tombstoneKey,
  tombstonesFrom,
} from "./layout.ts";
import { type RangeOptions, type RangePage, rangeBounds } from "./range.ts";

/**
 * One applied write, reported after it is durable: the placement partition, the record held before
 * (none: the key was new) and the one held now (none: a tombstone purged past its grace).
 */
export interface TableChange {
  readonly partition: number;
  readonly previous: TableRecord | undefined;
  readonly next: TableRecord | undefined;
}

export type TableChangeListener = (change: TableChange) => void;

export interface TableStoreOptions {
  /** The engine's file; `<path>-lock` beside it. Created when missing. */
  path: string;
  /**
   * Observes every version applied (so the node's own writes stamp later), and its wall clock
   * decides which versions are too far ahead (DFS_ERR_CLOCK_SKEW) and which tombstones are old.
   */
  clock: HybridClock;
  /** Told when a change listener throws. */
  warn?: (message: string, details: Record<string, unknown>) => void;
}

/** Tombstones purged per transaction: a purge never holds the writer for long. */
const PURGE_BATCH = 1000;

/**
 * A node's tables on disk: versioned records in LMDB (lmdb-js), kept newest-wins. Writes of one
 * event-loop turn share one transaction, committed and synced on lmdb-js's writer thread
 * (`overlappingSync: false`: a commit's promise resolves once the commit is on the disk), so the
 * event loop never waits for an fsync. Reads are synchronous, from memory-mapped pages.
 * ARCHITECTURE.md ("Tables") has the measurements behind the choice.
 */
/** lmdb-js's error for a failed commit: its cause is in `commitError`. */
const isCommitFailure = (r: unknown): boolean =>
  r instanceof Error && r.message.startsWith("Commit failed") && "commitError" in r;

let guarded = false;

/**
 * A failed commit (a full disk) also rejects a promise inside lmdb-js that nobody can hear; the
 * transaction's own rejection reports the failure (commitFailure), so that one is ignored rather
 * than ending the process. Any other unhandled rejection still ends it, as by default.
 */
function ignoreUnheardCommitFailures(): void {
  if (guarded) return;
  guarded = true;
  process.on("unhandledRejection", (reason) => {
    if (isCommitFailure(reason)) return;
    if (process.listenerCount("unhandledRejection") === 1) throw reason;
  });
}

/**
 * The error of a failed LMDB transaction. lmdb-js rejects a failed commit with an error whose
 * `commitError` is a second, rejected promise holding the cause: it is taken here (left alone it
 * would end the process as an unhandled rejection), and a full disk becomes DFS_ERR_DISK_FULL.
 */
export async function commitFailure(err: unknown): Promise<DfsError> {
  const pending = (err as { commitError?: unknown } | undefined)?.commitError;
  const cause =
    pending instanceof Promise
      ? await pending.then(
          () => err,
          (e: unknown) => e,
        )
      : err;
  const { code, message } = (cause ?? {}) as { code?: unknown; message?: unknown };
  if (code === 28 || code === "ENOSPC" || /No space left/i.test(String(message))) {
    return new DfsError("DFS_ERR_DISK_FULL", "no space left on the disk for table records", { cause });
  }
  return toDfsError(cause);
}

export class TableStore {
  readonly #root: RootDatabase<Buffer, Buffer>;
  readonly #records: Database<Buffer, Buffer>;
  readonly #tombstones: Database<Buffer, Buffer>;
  readonly #clock: HybridClock;
  readonly #warn: (message: string, details: Record<string, unknown>) => void;
  readonly #listeners = new Set<TableChangeListener>();
  #closed = false;

  private constructor(root: RootDatabase<Buffer, Buffer>, options: TableStoreOptions) {
    this.#root = root;
    this.#records = root.openDB<Buffer, Buffer>({
      name: "records",
      keyEncoding: "binary",
      encoding: "binary",
    });
    this.#tombstones = root.openDB<Buffer, Buffer>({
      name: "tombstones",
      keyEncoding: "binary",
      encoding: "binary",
    });
    this.#clock = options.clock;
    this.#warn = options.warn ?? (() => {});
  }

  static async open(options: TableStoreOptions): Promise<TableStore> {
    ignoreUnheardCommitFailures();
    const root = open<Buffer, Buffer>({
      path: options.path,
      keyEncoding: "binary",
      encoding: "binary",
      overlappingSync: false,
      maxDbs: 4,
    });
    return new TableStore(root, options);
  }

  /**
   * Keeps each record that is newer than the one held under its key (compareRecords), and answers
   * per record: applied, or not with the version held. Resolves once every kept record is durable
   * and every change listener was told. Checks the whole batch before storing any of it: a record
   * out of bounds (DFS_ERR_INVALID_RECORD, DFS_ERR_TOO_LARGE) or stamped more than the clock's
   * allowance ahead of this node's wall clock (DFS_ERR_CLOCK_SKEW) fails the batch.
   */
  async apply(records: readonly TableRecord[]): Promise<ApplyResult[]> {
    this.#checkOpen();
    this.check(records);
    const keyed = records.map((r) => {
      const partition = recordPartition(recordPlacementId(r.table, r.partitionKey));
      return {
        record: r,
        partition,
        key: Buffer.concat([recordPrefix(partition, r.table, r.partitionKey), r.sortKey]),
      };
    });
    const changes: TableChange[] = [];
    let results: ApplyResult[];
    try {
      results = await this.#root.transaction(() =>
        keyed.map(({ record, partition, key }): ApplyResult => {
          const stored = this.#records.getBinary(key);
          const held = stored && decodeStored(decodeKey(key), stored);
          if (held !== undefined && compareRecords(record, held) <= 0)
            return { applied: false, held: held.version };
          void this.#records.put(key, encodeStored(record));
          if (held?.deleted) void this.#tombstones.remove(tombstoneKey(held.version.hlc, key));
          if (record.deleted)
            void this.#tombstones.put(tombstoneKey(record.version.hlc, key), Buffer.alloc(0));
          changes.push({ partition, previous: held, next: record });
          return { applied: true };
        }),
      );
    } catch (err) {
      throw await commitFailure(err);
    }
    for (const r of records) this.#clock.observe(r.version.hlc);
    this.#emit(changes);
    return results;
  }

  /** Throws what apply() would refuse these records for (bounds, DFS_ERR_CLOCK_SKEW), storing nothing. */
  check(records: readonly TableRecord[]): void {
    for (const r of records) {
      checkRecord(r);
      if (this.#clock.isTooFarAhead(r.version.hlc)) {
        throw new DfsError(
          "DFS_ERR_CLOCK_SKEW",
          `a record stamped at ${new Date(hlcMs(r.version.hlc)).toISOString()} is too far ahead of this node's clock`,
        );
      }
    }
  }

  /** The record held under a key, tombstone included; undefined when none is. */
  get(table: string, partitionKey: Buffer, sortKey: Buffer): TableRecord | undefined {
    this.#checkOpen();
    const partition = recordPartition(recordPlacementId(table, partitionKey));
    const key = Buffer.concat([recordPrefix(partition, table, partitionKey), sortKey]);
    const stored = this.#records.getBinary(key);
    return stored && decodeStored(decodeKey(key), stored);
  }

  /**
   * Records of one (table, partition key) in sort-key order (bytewise) from a cursor, by prefix,
   * up to a limit: see RangeOptions. `next` is set when more records may follow: pass it as
   * `after` for the next page.
   */
  range(table: string, partitionKey: Buffer, options: RangeOptions): RangePage {
    this.#checkOpen();
    const partition = recordPartition(recordPlacementId(table, partitionKey));
    const prefix = recordPrefix(partition, table, partitionKey);
    const bounds = rangeBounds(prefix, options);
    const records: TableRecord[] = [];
    if (bounds === undefined) return { records };
    const fits = options.fits ?? (() => true);
    // The sort key of the last record read (taken or skipped): where the next page starts after.
    let last: Buffer | undefined;
    for (const { key, value } of this.#records.getRange({ start: bounds.start, end: bounds.end })) {
      if (bounds.after !== undefined && key.equals(bounds.after)) continue;
      const record = decodeStored(decodeKey(key), value);
      if (record.deleted && !options.includeDeleted) {
        last = record.sortKey;
        continue;
      }
      if (records.length >= options.limit) return { records, next: last };
      if (!fits(record) && records.length > 0) return { records, next: last };
      records.push(record);
      last = record.sortKey;
    }
    return { records };
  }

  /**
   * Every record of a placement partition (0..65535), tombstones included, in key order (table,
   * partition key, sort key), after `after` when given. Lazy over one read snapshot: consume it
   * without waiting on anything in between, or in pages (stop, then start again after the last).
   */
  *partitionRecords(
    partition: number,
    after?: Pick<TableRecord, "table" | "partitionKey" | "sortKey">,
  ): Generator<TableRecord> {
    this.#checkOpen();
    const prefix = partitionPrefix(partition);
    const afterKey =
      after && Buffer.concat([recordPrefix(partition, after.table, after.partitionKey), after.sortKey]);
    for (const { key, value } of this.#records.getRange({
      start: afterKey ?? prefix,
      end: prefixEnd(prefix),
    })) {
      if (afterKey?.equals(key)) continue;
      yield decodeStored(decodeKey(key), value);
    }
  }

  /** Calls `listener` with every change once it is durable; returns the function that stops it. */
  onChange(listener: TableChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Removes tombstones stamped more than `graceMs` before the clock's wall time, reading only the
   * tombstone index; each is removed only if it is still the record held. Returns how many went.
   * Until a tombstone goes, an older write that reaches its node loses to it; after, it would
   * not: the grace must outlast any copy still on its way (anti-entropy, a node that was down).
   */
  async purgeTombstones(graceMs: number): Promise<number> {
    this.#checkOpen();
    const cutoff = tombstonesFrom(hlcOf(Math.max(0, this.#clock.wallMs() - graceMs)));
    let purged = 0;
    for (;;) {
      const batch: Buffer[] = [];
      for (const key of this.#tombstones.getKeys({ end: cutoff, limit: PURGE_BATCH }))
        batch.push(Buffer.from(key));
      if (batch.length === 0) return purged;
      const changes: TableChange[] = [];
      const purging = this.#root.transaction(() => {
        for (const index of batch) {
          void this.#tombstones.remove(index);
          const key = index.subarray(8);
          const stored = this.#records.getBinary(key);
          if (stored === undefined) continue;
          const parts: KeyParts = decodeKey(key);
          const held = decodeStored(parts, stored);
          if (!held.deleted || held.version.hlc !== index.readBigUInt64BE(0)) continue;
          void this.#records.remove(key);
          changes.push({ partition: parts.partition, previous: held, next: undefined });
        }
      });
      try {
        await purging;
      } catch (err) {
        throw await commitFailure(err);
      }
      purged += changes.length;
      this.#emit(changes);
    }
  }

  /** Waits for writes in flight, then closes the engine. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#root.flushed;
    await this.#root.close();
  }

  #emit(changes: readonly TableChange[]): void {
    for (const change of changes) {
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch (err) {
          this.#warn("tables: a change listener threw", { err: (err as Error).message });
        }
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new DfsError("DFS_ERR_SHUTTING_DOWN", "the node's tables are closed");
  }
}
