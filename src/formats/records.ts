import { DfsError } from "../errors.ts";

/**
 * Table records: (table, partition key, sort key) -> value, with a version and a deleted flag.
 * Keys and values are opaque bytes to every node (a gateway seals what says anything about users'
 * files); keys order bytewise. One merge rule for every table: the greater record by
 * `compareRecords` wins, everywhere, whatever order copies arrive in.
 */

/** Who wrote a record, and when by the writer's hybrid logical clock (hlc.ts). */
export interface Version {
  /** The writer's clock reading: u64, 48-bit ms and a 16-bit counter. */
  readonly hlc: bigint;
  /** The writer's id (its credential's id: a node id, a gateway's name): 1-255 bytes of UTF-8. */
  readonly writer: string;
}

export interface TableRecord {
  readonly table: string;
  readonly partitionKey: Buffer;
  readonly sortKey: Buffer;
  readonly version: Version;
  /** A deletion is a version like any other: it wins over older writes and stays as a tombstone. */
  readonly deleted: boolean;
  /** Opaque bytes; empty for a deletion. */
  readonly value: Buffer;
}

/**
 * What a node answers for one record written to it: stored, or not because it holds this version
 * or a newer one (`held`). Either way the node now holds the record or something that beats it.
 */
export type ApplyResult = { readonly applied: true } | { readonly applied: false; readonly held: Version };

/** Bounds every record is checked against, before anything is allocated for it on the wire. */
export const RecordLimits = {
  /** Bytes of a table name: [a-z0-9_-]{1,64}. */
  MAX_TABLE_NAME: 64,
  /** Bytes of a partition key (at least 1). */
  MAX_PARTITION_KEY: 256,
  /** Bytes of a sort key (0 allowed): an S3 key is at most 1024 bytes of UTF-8. */
  MAX_SORT_KEY: 1024,
  /** Bytes of a value: one record always fits a 64 KiB control frame. */
  MAX_VALUE: 32 * 1024,
  /** Bytes of a writer id (a credential id is at most 255). */
  MAX_WRITER: 255,
} as const;

const TABLE_NAME = /^[a-z0-9_-]{1,64}$/;

function invalid(message: string): DfsError {
  return new DfsError("DFS_ERR_INVALID_RECORD", message);
}

export function isTableName(name: string): boolean {
  return TABLE_NAME.test(name);
}

/** DFS_ERR_INVALID_RECORD unless `name` is [a-z0-9_-]{1,64}. */
export function checkTableName(name: string): void {
  if (!isTableName(name))
    throw invalid(`a table name is [a-z0-9_-]{1,64}: ${JSON.stringify(name.slice(0, 80))}`);
}

/** DFS_ERR_INVALID_RECORD when a partition key is empty or longer than its bound. */
export function checkPartitionKeyLength(length: number): void {
  if (length < 1 || length > RecordLimits.MAX_PARTITION_KEY)
    throw invalid(`a partition key is 1-${RecordLimits.MAX_PARTITION_KEY} bytes, not ${length}`);
}

/** DFS_ERR_INVALID_RECORD when a sort key is longer than its bound. */
export function checkSortKeyLength(length: number): void {
  if (length > RecordLimits.MAX_SORT_KEY)
    throw invalid(`a sort key is at most ${RecordLimits.MAX_SORT_KEY} bytes, not ${length}`);
}

/** DFS_ERR_TOO_LARGE when a value is longer than its bound. */
export function checkValueLength(length: number): void {
  if (length > RecordLimits.MAX_VALUE)
    throw new DfsError(
      "DFS_ERR_TOO_LARGE",
      `a record's value is at most ${RecordLimits.MAX_VALUE} bytes, not ${length}`,
    );
}

/** DFS_ERR_INVALID_RECORD when a writer id's UTF-8 is empty or longer than its bound. */
export function checkWriterLength(length: number): void {
  if (length < 1 || length > RecordLimits.MAX_WRITER)
    throw invalid(`a writer id is 1-${RecordLimits.MAX_WRITER} bytes, not ${length}`);
}

/** Every bound of a record, and a deletion's empty value. */
export function checkRecord(r: TableRecord): void {
  checkTableName(r.table);
  checkPartitionKeyLength(r.partitionKey.length);
  checkSortKeyLength(r.sortKey.length);
  checkValueLength(r.value.length);
  checkWriterLength(Buffer.byteLength(r.version.writer, "utf8"));
  if (r.version.hlc < 0n || r.version.hlc >= 1n << 64n) throw invalid("a version's clock reading is a u64");
  if (r.deleted && r.value.length > 0) throw invalid("a deletion carries no value");
}

/** Versions in order: the clock reading, then the writer id's UTF-8 bytes. */
export function compareVersions(a: Version, b: Version): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.writer === b.writer) return 0;
  return Buffer.compare(Buffer.from(a.writer, "utf8"), Buffer.from(b.writer, "utf8"));
}

/**
 * The total order of two records of one key: the version; on an exact tie of versions (one writer
 * that stamped one reading twice, which its clock never does unless restarted with the wall clock
 * set back) a deletion over a write, then the greater value bytewise. Two records that compare 0
 * are the same record, so every owner picks the same winner whatever it saw first.
 */
export function compareRecords(a: TableRecord, b: TableRecord): number {
  const byVersion = compareVersions(a.version, b.version);
  if (byVersion !== 0) return byVersion;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  return Buffer.compare(a.value, b.value);
}

/** Whether `incoming` replaces `held` (nothing held: it does). */
export function supersedes(incoming: TableRecord, held: TableRecord | undefined): boolean {
  return held === undefined || compareRecords(incoming, held) > 0;
}

/** The winner of two records of one key. */
export function newestOf(a: TableRecord, b: TableRecord): TableRecord {
  return compareRecords(a, b) >= 0 ? a : b;
}
