import { DfsError } from "../../errors.ts";
import type { TableRecord } from "../../formats/index.ts";
import { prefixEnd } from "./layout.ts";

/** Which records of one (table, partition key) a range read takes, in sort-key order. */
export interface RangeOptions {
  /** Start after this sort key (exclusive): the `next` of the page before. Not with `from`. */
  after?: Buffer | undefined;
  /** Start at this sort key (inclusive). Not with `after`. */
  from?: Buffer | undefined;
  /** Only sort keys that start with these bytes. */
  prefix?: Buffer | undefined;
  /** At most this many records (at least 1). */
  limit: number;
  /** Tombstones too (default: skipped, as a listing wants). */
  includeDeleted?: boolean | undefined;
  /**
   * Asked before each record is taken, in order: false ends the page before it (a byte budget);
   * the first record is taken whatever it answers, so a page is never empty while records follow.
   */
  fits?: ((record: TableRecord) => boolean) | undefined;
}

export interface RangePage {
  records: TableRecord[];
  /** Set when records follow: the sort key to pass as `after` for the next page. */
  next?: Buffer | undefined;
}

/** Engine keys to read between: from `start` (skipping a key equal to `after`) below `end`. */
export interface RangeBounds {
  start: Buffer;
  end: Buffer | undefined;
  after: Buffer | undefined;
}

/**
 * The engine keys a range covers, for the records whose keys start with `prefix` (their table and
 * partition key); undefined when it covers none.
 */
export function rangeBounds(prefix: Buffer, options: RangeOptions): RangeBounds | undefined {
  if (options.after !== undefined && options.from !== undefined)
    throw new DfsError("DFS_ERR_BAD_REQUEST", "a range starts after a key or from one, not both");
  if (!Number.isInteger(options.limit) || options.limit < 1)
    throw new DfsError("DFS_ERR_BAD_REQUEST", "a range's limit is at least 1");
  const cursor = options.after ?? options.from;
  const exclusive = options.after !== undefined;
  const within = options.prefix === undefined ? prefix : Buffer.concat([prefix, options.prefix]);
  const end = prefixEnd(within);
  let start = within;
  let after: Buffer | undefined;
  if (cursor !== undefined && (options.prefix === undefined || Buffer.compare(cursor, options.prefix) >= 0)) {
    start = Buffer.concat([prefix, cursor]);
    if (exclusive) after = start;
  }
  if (end !== undefined && Buffer.compare(start, end) >= 0) return undefined;
  return { start, end, after };
}
