import type { TableRecord } from "../../formats/index.ts";

/**
 * How a node lays table records out in its engine (LMDB, one environment, two databases):
 *
 *   records:    key   u16 partition ‖ u8 n ‖ table (n) ‖ u16 m ‖ partition key (m) ‖ sort key
 *               value u64 hlc ‖ u8 flags (bit 0: deleted) ‖ u8 w ‖ writer (w) ‖ value bytes
 *   tombstones: key   u64 hlc ‖ the record's key;  value empty
 *
 * Integers big-endian, so keys order as numbers. The partition first: a placement partition's
 * records are one contiguous run (anti-entropy walks them). The fields before the sort key carry
 * their lengths, so the keys of one (table, partition key) are exactly those that start with its
 * prefix, in sort-key order (bytewise). The tombstone index orders deletions by age, so purging
 * old ones reads only those. Longest key: 2 + 1 + 64 + 2 + 256 + 1024 = 1349 bytes, under LMDB's
 * 1978 at 4 KiB pages.
 */

const FLAG_DELETED = 0x01;

/** The key prefix shared by every record of (table, partition key) in `partition`. */
export function recordPrefix(partition: number, table: string, partitionKey: Buffer): Buffer {
  const name = Buffer.from(table, "utf8");
  const out = Buffer.allocUnsafe(2 + 1 + name.length + 2 + partitionKey.length);
  let at = out.writeUInt16BE(partition, 0);
  at = out.writeUInt8(name.length, at);
  at += name.copy(out, at);
  at = out.writeUInt16BE(partitionKey.length, at);
  partitionKey.copy(out, at);
  return out;
}

/** The prefix of every record of one partition. */
export function partitionPrefix(partition: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeUInt16BE(partition);
  return out;
}

/**
 * The smallest key greater than every key that starts with `prefix`, or undefined when there is
 * none (a prefix of 0xff bytes only): the exclusive end of a prefix's range.
 */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

export interface KeyParts {
  partition: number;
  table: string;
  partitionKey: Buffer;
  sortKey: Buffer;
}

/** A record key's fields (copies: the engine may reuse the key's memory). */
export function decodeKey(key: Buffer): KeyParts {
  const partition = key.readUInt16BE(0);
  const n = key[2]!;
  const table = key.toString("utf8", 3, 3 + n);
  const m = key.readUInt16BE(3 + n);
  const pkAt = 5 + n;
  return {
    partition,
    table,
    partitionKey: Buffer.from(key.subarray(pkAt, pkAt + m)),
    sortKey: Buffer.from(key.subarray(pkAt + m)),
  };
}

/** A record's stored value: its version, deleted flag and value bytes. */
export function encodeStored(r: TableRecord): Buffer {
  const writer = Buffer.from(r.version.writer, "utf8");
  const out = Buffer.allocUnsafe(8 + 1 + 1 + writer.length + r.value.length);
  let at = out.writeBigUInt64BE(r.version.hlc, 0);
  at = out.writeUInt8(r.deleted ? FLAG_DELETED : 0, at);
  at = out.writeUInt8(writer.length, at);
  at += writer.copy(out, at);
  r.value.copy(out, at);
  return out;
}

/** The record stored as `stored` under a key with these fields (the value bytes are copied). */
export function decodeStored(parts: KeyParts, stored: Buffer): TableRecord {
  const hlc = stored.readBigUInt64BE(0);
  const deleted = (stored[8]! & FLAG_DELETED) !== 0;
  const w = stored[9]!;
  const writer = stored.toString("utf8", 10, 10 + w);
  return {
    table: parts.table,
    partitionKey: parts.partitionKey,
    sortKey: parts.sortKey,
    version: { hlc, writer },
    deleted,
    value: Buffer.from(stored.subarray(10 + w)),
  };
}

/** The tombstone index's key of a deletion stamped `hlc` stored under `key`. */
export function tombstoneKey(hlc: bigint, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + key.length);
  out.writeBigUInt64BE(hlc, 0);
  key.copy(out, 8);
  return out;
}

/** The first tombstone-index key stamped at or after `hlc`. */
export function tombstonesFrom(hlc: bigint): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeBigUInt64BE(hlc, 0);
  return out;
}
