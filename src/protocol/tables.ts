import { DfsError } from "../errors.ts";
import {
  type ApplyResult,
  checkPartitionKeyLength,
  checkSortKeyLength,
  checkTableName,
  checkValueLength,
  checkWriterLength,
  RecordLimits,
  type TableRecord,
  type Version,
} from "../formats/index.ts";
import { BodyReader, BodyWriter } from "./codec.ts";
import { Limits } from "./frame.ts";

/**
 * TABLE_WRITE and TABLE_READ bodies (docs/protocol.md, "Tables"). Every length is checked against
 * its bound (src/formats/records.ts) before the bytes it announces are taken: a bound exceeded is
 * the request's own error (DFS_ERR_INVALID_RECORD, DFS_ERR_TOO_LARGE; the connection stays), a
 * body that ends early or runs on is DFS_ERR_PROTOCOL (the connection closes).
 *
 *   version = u64 hlc ‖ u8 w ‖ writer (w)
 *   entry   = u16 s ‖ sort key (s) ‖ version ‖ u8 flags (bit 0 deleted) ‖ u32 v ‖ value (v)
 *   record  = u8 n ‖ table (n) ‖ u16 m ‖ partition key (m) ‖ entry
 */

/** One record of a (table, partition key) a read names once: what a read answers per record. */
export interface TableEntry {
  sortKey: Buffer;
  version: Version;
  deleted: boolean;
  value: Buffer;
}

export type TableReadRequest =
  | { mode: "point"; table: string; partitionKey: Buffer; sortKey: Buffer }
  | {
      mode: "range";
      table: string;
      partitionKey: Buffer;
      /** Start after this sort key (exclusive). Not with `from`. */
      after: Buffer | undefined;
      /** Start at this sort key (inclusive). Not with `after`. */
      from: Buffer | undefined;
      prefix: Buffer | undefined;
      /** 1..MAX_TABLE_READ_LIMIT. */
      limit: number;
      includeDeleted: boolean;
    };

export interface TableReadResult {
  entries: TableEntry[];
  /** Set when more records follow: the sort key to read after. */
  next?: Buffer | undefined;
}

const FLAG_DELETED = 0x01;
const FIXED_ENTRY_BYTES = 2 + 8 + 1 + 1 + 4;

/** The bytes an entry takes in a body. */
export function tableEntryBytes(e: Pick<TableEntry, "sortKey" | "version" | "value">): number {
  return FIXED_ENTRY_BYTES + e.sortKey.length + Buffer.byteLength(e.version.writer, "utf8") + e.value.length;
}

/** The bytes a record takes in a TABLE_WRITE body. */
export function tableRecordBytes(r: TableRecord): number {
  return 1 + Buffer.byteLength(r.table, "utf8") + 2 + r.partitionKey.length + tableEntryBytes(r);
}

/** Bytes of entries a TABLE_READ answer may carry: the body limit less its count and cursor. */
export const TABLE_READ_BUDGET = Limits.MAX_CONTROL_BODY - 2 - 1 - 2 - RecordLimits.MAX_SORT_KEY;
/** Bytes of records a TABLE_WRITE may carry: the body limit less its count. */
export const TABLE_WRITE_BUDGET = Limits.MAX_CONTROL_BODY - 2;

function tooLong(what: string): DfsError {
  return new DfsError("DFS_ERR_BAD_REQUEST", `${what} too long for its length field`);
}

function writeKey(w: BodyWriter, key: Buffer): BodyWriter {
  if (key.length > 0xffff) throw tooLong("a key");
  return w.u16(key.length).bytes(key);
}

function writeVersion(w: BodyWriter, v: Version): BodyWriter {
  const writer = Buffer.from(v.writer, "utf8");
  if (writer.length > 0xff) throw tooLong("a writer id");
  return w.u64n(v.hlc).u8(writer.length).bytes(writer);
}

function writeEntry(w: BodyWriter, e: TableEntry): BodyWriter {
  writeVersion(writeKey(w, e.sortKey), e.version).u8(e.deleted ? FLAG_DELETED : 0);
  return w.u32(e.value.length).bytes(e.value);
}

function writeTableAndKey(w: BodyWriter, table: string, partitionKey: Buffer): BodyWriter {
  const name = Buffer.from(table, "utf8");
  if (name.length > 0xff) throw tooLong("a table name");
  return writeKey(w.u8(name.length).bytes(name), partitionKey);
}

function readTable(r: BodyReader): string {
  const n = r.u8();
  if (n > RecordLimits.MAX_TABLE_NAME) throw new DfsError("DFS_ERR_INVALID_RECORD", "table name too long");
  const table = r.bytes(n).toString("utf8");
  checkTableName(table);
  return table;
}

function readPartitionKey(r: BodyReader): Buffer {
  const m = r.u16();
  checkPartitionKeyLength(m);
  return Buffer.from(r.bytes(m));
}

function readSortKey(r: BodyReader): Buffer {
  const s = r.u16();
  checkSortKeyLength(s);
  return Buffer.from(r.bytes(s));
}

function readVersion(r: BodyReader): Version {
  const hlc = r.u64n();
  const w = r.u8();
  checkWriterLength(w);
  return { hlc, writer: r.bytes(w).toString("utf8") };
}

function readEntry(r: BodyReader): TableEntry {
  const sortKey = readSortKey(r);
  const version = readVersion(r);
  const flags = r.u8();
  if ((flags & ~FLAG_DELETED) !== 0)
    throw new DfsError("DFS_ERR_INVALID_RECORD", `unknown record flags ${flags}`);
  const deleted = (flags & FLAG_DELETED) !== 0;
  const v = r.u32();
  checkValueLength(v);
  if (deleted && v > 0) throw new DfsError("DFS_ERR_INVALID_RECORD", "a deletion carries no value");
  return { sortKey, version, deleted, value: Buffer.from(r.bytes(v)) };
}

/** A count, then each record: table, partition key, entry (TABLE_WRITE's body, a PUT's records). */
export function writeRecords(w: BodyWriter, records: readonly TableRecord[]): BodyWriter {
  w.u16(records.length);
  for (const rec of records) writeEntry(writeTableAndKey(w, rec.table, rec.partitionKey), rec);
  return w;
}

/** What writeRecords wrote, at most `max` records. */
export function readRecords(r: BodyReader, max: number): TableRecord[] {
  const records: TableRecord[] = [];
  for (let i = r.count(max); i > 0; i--) {
    const table = readTable(r);
    const partitionKey = readPartitionKey(r);
    records.push({ table, partitionKey, ...readEntry(r) });
  }
  return records;
}

// --- TABLE_WRITE ---------------------------------------------------------------------------------
export const TableWriteReq = {
  encode: (records: readonly TableRecord[]): Buffer => writeRecords(new BodyWriter(), records).done(),
  decode(body: Buffer): TableRecord[] {
    const r = new BodyReader(body);
    const records = readRecords(r, Limits.MAX_TABLE_BATCH);
    r.end();
    return records;
  },
};
export const TableWriteRes = {
  encode(results: readonly ApplyResult[]): Buffer {
    const w = new BodyWriter().u16(results.length);
    for (const a of results) {
      if (a.applied) w.u8(0);
      else writeVersion(w.u8(1), a.held);
    }
    return w.done();
  },
  decode(body: Buffer): ApplyResult[] {
    const r = new BodyReader(body);
    const results: ApplyResult[] = [];
    for (let i = r.count(Limits.MAX_TABLE_BATCH); i > 0; i--) {
      const status = r.u8();
      if (status === 0) results.push({ applied: true });
      else if (status === 1) results.push({ applied: false, held: readVersion(r) });
      else throw new DfsError("DFS_ERR_PROTOCOL", `unknown write status ${status}`);
    }
    r.end();
    return results;
  },
};

// --- TABLE_READ ----------------------------------------------------------------------------------
const MODE_POINT = 0;
const MODE_RANGE = 1;
const START_NONE = 0;
const START_AFTER = 1;
const START_FROM = 2;
const READ_INCLUDE_DELETED = 0x01;

export const TableReadReq = {
  encode(m: TableReadRequest): Buffer {
    const w = writeTableAndKey(new BodyWriter(), m.table, m.partitionKey);
    if (m.mode === "point") return writeKey(w.u8(MODE_POINT), m.sortKey).done();
    w.u8(MODE_RANGE);
    if (m.after !== undefined) writeKey(w.u8(START_AFTER), m.after);
    else if (m.from !== undefined) writeKey(w.u8(START_FROM), m.from);
    else w.u8(START_NONE);
    if (m.prefix === undefined) w.u8(0);
    else writeKey(w.u8(1), m.prefix);
    return w
      .u16(m.limit)
      .u8(m.includeDeleted ? READ_INCLUDE_DELETED : 0)
      .done();
  },
  decode(body: Buffer): TableReadRequest {
    const r = new BodyReader(body);
    const table = readTable(r);
    const partitionKey = readPartitionKey(r);
    const mode = r.u8();
    let m: TableReadRequest;
    if (mode === MODE_POINT) {
      m = { mode: "point", table, partitionKey, sortKey: readSortKey(r) };
    } else if (mode === MODE_RANGE) {
      const start = r.u8();
      if (start > START_FROM) throw new DfsError("DFS_ERR_PROTOCOL", `unknown range start ${start}`);
      const cursor = start === START_NONE ? undefined : readSortKey(r);
      const prefix = r.u8() === 1 ? readSortKey(r) : undefined;
      const limit = r.u16();
      if (limit < 1 || limit > Limits.MAX_TABLE_READ_LIMIT)
        throw new DfsError("DFS_ERR_BAD_REQUEST", `a range's limit is 1..${Limits.MAX_TABLE_READ_LIMIT}`);
      const flags = r.u8();
      m = {
        mode: "range",
        table,
        partitionKey,
        after: start === START_AFTER ? cursor : undefined,
        from: start === START_FROM ? cursor : undefined,
        prefix,
        limit,
        includeDeleted: (flags & READ_INCLUDE_DELETED) !== 0,
      };
    } else {
      throw new DfsError("DFS_ERR_PROTOCOL", `unknown read mode ${mode}`);
    }
    r.end();
    return m;
  },
};
export const TableReadRes = {
  encode(m: TableReadResult): Buffer {
    const w = new BodyWriter().u16(m.entries.length);
    for (const e of m.entries) writeEntry(w, e);
    return (m.next === undefined ? w.u8(0) : writeKey(w.u8(1), m.next)).done();
  },
  decode(body: Buffer): TableReadResult {
    const r = new BodyReader(body);
    const entries: TableEntry[] = [];
    for (let i = r.count(Limits.MAX_TABLE_READ_LIMIT); i > 0; i--) entries.push(readEntry(r));
    const next = r.u8() === 1 ? readSortKey(r) : undefined;
    r.end();
    return next === undefined ? { entries } : { entries, next };
  },
};
