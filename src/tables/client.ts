import { DfsError, isDfsError, toDfsError } from "../errors.ts";
import {
  checkRecord,
  compareRecords,
  type HybridClock,
  newestOf,
  type TableRecord,
  type Version,
} from "../formats/index.ts";
import { recordPlacementId } from "../placement/index.ts";
import { Limits } from "../protocol/index.ts";
import type { TableNodeApi } from "../transport/index.ts";
import { askInTurn } from "./ask-in-turn.ts";
import { mergePages, type OwnerPage } from "./merge.ts";
import { quorumWrite, writeBatches, writeTo } from "./write.ts";

export interface TableClientOptions {
  /** The node protocol's table requests (a NodeClient). */
  nodes: TableNodeApi;
  /** Addresses of a placement id's nodes, best first: its R owners first (LiveOrder.order, or the gateway's placement). */
  order: (placementId: string) => readonly string[];
  /** R: the owners every record is written to. */
  replicas: number;
  /** W: the owners that must hold a record before a write resolves. Reads ask R − W + 1. */
  writeQuorum: number;
  /** Stamps this client's writes; observes every version it reads or is answered with. */
  clock: HybridClock;
  /** The writer id stamped on this client's versions: the process's credential id. */
  writer: string;
  /** The wait before a read also asks the next owner; a function when it is learnt. Default 200 ms. */
  hedgeMs?: number | (() => number);
  /** Called each time a read asks one more owner after a silence. */
  onHedge?: () => void;
  /** Told of background work that failed: the rest of a write, read-repair. Default: nothing. */
  onBackgroundError?: (err: DfsError, addr: string) => void;
}

/** A record to write; the client stamps its version. */
export interface RecordWrite {
  table: string;
  partitionKey: Buffer;
  sortKey: Buffer;
  /** The value; absent or empty for a deletion. */
  value?: Buffer;
  /** A deletion (a version like any other; it reads as absent). */
  deleted?: boolean;
}

export interface TableRangeOptions {
  /** Start after this sort key (a page's `next`). Not with `from`. */
  after?: Buffer | undefined;
  /** Start at this sort key (inclusive). Not with `after`. */
  from?: Buffer | undefined;
  /** Only sort keys that start with these bytes. */
  prefix?: Buffer | undefined;
  /** At most this many records (at least 1; pages of up to 1,000 are read from the owners until it is met). */
  limit: number;
  /** Tombstones too (default: deletions read as absent). */
  includeDeleted?: boolean | undefined;
}

export interface TableRangePage {
  records: TableRecord[];
  /** Set when records follow: pass it as `after` for the next page. */
  next?: Buffer | undefined;
}

/**
 * Quorum reads and writes of table records over their R owners (Dynamo-style, strict quorums):
 * - write: every record goes to the R owners of its (table, partition key) at once and counts once
 *   W answered (applied, or already holding that version or a newer one); the rest finish in the
 *   background. Records of different partition keys are written independently: a failure may
 *   leave some written, which a retry (the same versions) makes whole.
 * - read and range: ask R − W + 1 owners (any such set meets every write quorum), one more after a
 *   silence of the hedge delay, return the newest of what they hold (a deletion reads as absent),
 *   and read-repair: owners that answered with an older version, or none, get the newest in the
 *   background.
 * Stale owners outside what a read saw are brought up to date by anti-entropy between owners.
 */
export class TableClient {
  readonly #o: TableClientOptions;

  constructor(options: TableClientOptions) {
    if (options.writeQuorum < 1 || options.writeQuorum > options.replicas)
      throw new DfsError("DFS_ERR_CONFIG", "a table client's write quorum is 1..replicas");
    this.#o = options;
  }

  /** Stamps each write with this client's clock and writer id, then writes them (writeRecords). */
  async write(writes: readonly RecordWrite[]): Promise<TableRecord[]> {
    const records = this.stamp(writes);
    await this.writeRecords(records);
    return records;
  }

  /** Records as write() would write them, stamped now: for records that travel another way (a PUT's). */
  stamp(writes: readonly RecordWrite[]): TableRecord[] {
    return writes.map(
      (w): TableRecord => ({
        table: w.table,
        partitionKey: w.partitionKey,
        sortKey: w.sortKey,
        version: { hlc: this.#o.clock.now(), writer: this.#o.writer },
        deleted: w.deleted ?? false,
        value: w.deleted ? Buffer.alloc(0) : (w.value ?? Buffer.alloc(0)),
      }),
    );
  }

  /**
   * Writes records as they are stamped (copies from elsewhere: repair, sync). Resolves once W
   * owners of each record's placement hold it or a newer version; DFS_ERR_INSUFFICIENT_REPLICAS
   * when fewer could, a record's own code (DFS_ERR_INVALID_RECORD, ...) when it is refused.
   */
  async writeRecords(records: readonly TableRecord[]): Promise<void> {
    const owners = new Map<string, readonly string[]>();
    const owned = records.map((record) => {
      checkRecord(record);
      const id = recordPlacementId(record.table, record.partitionKey);
      let o = owners.get(id);
      if (o === undefined) {
        o = this.#owners(id);
        owners.set(id, o);
      }
      return { record, owners: o };
    });
    await quorumWrite(this.#o.nodes, owned, this.#o.writeQuorum, {
      onHeld: (held: Version) => this.#o.clock.observe(held.hlc),
      onLate: (err: DfsError, addr: string) => this.#background(err, addr),
    });
  }

  /** The newest record of a key among R − W + 1 owners; a deletion reads as absent unless asked for. */
  async read(
    table: string,
    partitionKey: Buffer,
    sortKey: Buffer,
    options: { includeDeleted?: boolean } = {},
  ): Promise<TableRecord | undefined> {
    const owners = this.#owners(recordPlacementId(table, partitionKey));
    const ask = async (addr: string, stop: AbortSignal) => {
      try {
        const got = await this.#o.nodes.tableRead(
          addr,
          { mode: "point", table, partitionKey, sortKey },
          { signal: stop },
        );
        const e = got.entries[0];
        return { addr, record: e && { table, partitionKey, ...e } };
      } catch (err) {
        return this.#noAnswer(err);
      }
    };
    const answers = await this.#ask(owners, ask);
    const held = answers.map((a) => a.record).filter((r): r is TableRecord => r !== undefined);
    if (held.length === 0) return undefined;
    const newest = held.reduce(newestOf);
    this.#o.clock.observe(newest.version.hlc);
    for (const a of answers) {
      if (a.record === undefined || compareRecords(a.record, newest) < 0) this.#repair(a.addr, [newest]);
    }
    return newest.deleted && !options.includeDeleted ? undefined : newest;
  }

  /**
   * Records of one (table, partition key) in sort-key order, newest-wins across R − W + 1 owners
   * per page read, with the owners' differences read-repaired. `next` is set when more may follow.
   */
  async range(table: string, partitionKey: Buffer, options: TableRangeOptions): Promise<TableRangePage> {
    if (options.after !== undefined && options.from !== undefined)
      throw new DfsError("DFS_ERR_BAD_REQUEST", "a range starts after a key or from one, not both");
    if (!Number.isInteger(options.limit) || options.limit < 1)
      throw new DfsError("DFS_ERR_BAD_REQUEST", "a range's limit is at least 1");
    const owners = this.#owners(recordPlacementId(table, partitionKey));
    const records: TableRecord[] = [];
    let after = options.after;
    let from = options.from;
    for (;;) {
      const limit = Math.min(Limits.MAX_TABLE_READ_LIMIT, options.limit - records.length);
      const request = { mode: "range" as const, table, partitionKey, after, from, prefix: options.prefix };
      const ask = async (addr: string, stop: AbortSignal): Promise<OwnerPage | undefined> => {
        try {
          const page = await this.#o.nodes.tableRead(
            addr,
            { ...request, limit, includeDeleted: true },
            { signal: stop },
          );
          return { addr, entries: page.entries, next: page.next };
        } catch (err) {
          return this.#noAnswer(err);
        }
      };
      const merged = mergePages(table, partitionKey, await this.#ask(owners, ask));
      for (const [addr, stale] of merged.stale) this.#repair(addr, stale);
      for (const [i, r] of merged.newest.entries()) {
        this.#o.clock.observe(r.version.hlc);
        if (r.deleted && !options.includeDeleted) continue;
        records.push(r);
        if (records.length === options.limit) {
          const more = i < merged.newest.length - 1 || merged.coveredTo !== undefined;
          return { records, next: more ? r.sortKey : undefined };
        }
      }
      if (merged.coveredTo === undefined) return { records };
      const cursor = after ?? from;
      if (cursor !== undefined && Buffer.compare(merged.coveredTo, cursor) <= 0)
        throw new DfsError("DFS_ERR_PROTOCOL", "an owner's range cursor did not move forward");
      after = merged.coveredTo;
      from = undefined;
    }
  }

  /** The R owners of a placement id. */
  #owners(placementId: string): string[] {
    return this.#o.order(placementId).slice(0, this.#o.replicas);
  }

  /** askInTurn for R − W + 1 answers among `owners`; DFS_ERR_UNAVAILABLE when too few came. */
  async #ask<T>(owners: readonly string[], ask: (addr: string, stop: AbortSignal) => Promise<T | undefined>) {
    const need = this.#o.replicas - this.#o.writeQuorum + 1;
    const hedge = this.#o.hedgeMs;
    const { answers } = await askInTurn(owners, need, ask, {
      hedgeMs: typeof hedge === "function" ? hedge() : hedge,
      onHedge: this.#o.onHedge,
    });
    if (answers.length < need) {
      throw new DfsError(
        "DFS_ERR_UNAVAILABLE",
        `${answers.length} of the ${owners.length} owners answered, ${need} needed`,
      );
    }
    return answers;
  }

  /** An owner that failed gives no answer (askInTurn asks the next); a cancelled read stays cancelled. */
  #noAnswer(err: unknown): undefined {
    if (isDfsError(err, "DFS_ERR_CANCELLED")) return undefined;
    const e = toDfsError(err);
    // The request's own fault would be every owner's: not a silence to hedge around.
    if (
      e.code === "DFS_ERR_INVALID_RECORD" ||
      e.code === "DFS_ERR_BAD_REQUEST" ||
      e.code === "DFS_ERR_FORBIDDEN"
    )
      throw e;
    return undefined;
  }

  /** Read-repair: the newest records to an owner that lacked them, in the background. */
  #repair(addr: string, records: readonly TableRecord[]): void {
    writeTo(this.#o.nodes, addr, writeBatches(records)).catch((err: unknown) =>
      this.#background(toDfsError(err), addr),
    );
  }

  #background(err: DfsError, addr: string): void {
    this.#o.onBackgroundError?.(err, addr);
  }
}
