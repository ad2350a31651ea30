import { createHash } from "node:crypto";
import type { TableRecord } from "../../formats/index.ts";
import { recordPartition, recordPlacementId } from "../../placement/index.ts";
import type { TableChange, TableStore } from "../tables/index.ts";
import { PARTITIONS } from "./digest-tree.ts";
import type { ElementIndex } from "./element-index.ts";

/**
 * A table record's element in the "tables" tree (TREES.tables):
 * - its id: the record's placement partition (2 bytes, big-endian), then the first 30 bytes of
 *   SHA-256 over the key (u8 table length ‖ table ‖ u16 partition key length ‖ partition key ‖
 *   sort key): one id per key, uniform after the partition as ElementIndex needs;
 * - its hash: SHA-256(id ‖ u64 hlc ‖ u8 writer length ‖ writer ‖ u8 deleted), so two owners
 *   holding different versions of one key (or a write and its deletion) differ.
 * A record's value is not hashed: the merge rule orders equal versions by the deleted flag and
 * then the value, and one writer never stamps two values with one reading (records.ts).
 */
export function tableElement(record: TableRecord, partition?: number): { id: string; hash: Buffer } {
  const p = partition ?? recordPartition(recordPlacementId(record.table, record.partitionKey));
  const key = createHash("sha256");
  const head = Buffer.allocUnsafe(3 + Buffer.byteLength(record.table));
  head.writeUInt8(head.length - 3, 0);
  head.write(record.table, 1);
  head.writeUInt16BE(record.partitionKey.length, head.length - 2);
  key.update(head).update(record.partitionKey).update(record.sortKey);
  const id = Buffer.allocUnsafe(32);
  id.writeUInt16BE(p, 0);
  key.digest().copy(id, 2, 0, 30);
  const writer = Buffer.from(record.version.writer, "utf8");
  const version = Buffer.allocUnsafe(10 + writer.length);
  version.writeBigUInt64BE(record.version.hlc, 0);
  version.writeUInt8(writer.length, 8);
  writer.copy(version, 9);
  version.writeUInt8(record.deleted ? 1 : 0, 9 + writer.length);
  const hash = createHash("sha256").update(id).update(version).digest();
  return { id: id.toString("hex"), hash };
}

/**
 * Fills `index` with an element per record the tables hold (a walk of every partition, tombstones
 * included), then keeps it up to date from the store's change hook: a record applied replaces its
 * key's element, a tombstone purged takes it out. The walk is synchronous, over one snapshot per
 * partition, so no change lands between it and the hook. Returns the function that stops it.
 */
export function trackTables(tables: TableStore, index: ElementIndex): () => void {
  for (let p = 0; p < PARTITIONS; p++) {
    for (const record of tables.partitionRecords(p)) {
      const { id, hash } = tableElement(record, p);
      index.set(id, hash);
    }
  }
  return tables.onChange((change: TableChange) => {
    if (change.next !== undefined) {
      const { id, hash } = tableElement(change.next, change.partition);
      index.set(id, hash);
    } else if (change.previous !== undefined) {
      index.delete(tableElement(change.previous, change.partition).id);
    }
  });
}

/**
 * The records of one partition whose elements are among `ids` (a walk of that partition only):
 * what is sent to a peer whose digests differ there.
 */
export function recordsOf(tables: TableStore, partition: number, ids: ReadonlySet<string>): TableRecord[] {
  const out: TableRecord[] = [];
  for (const record of tables.partitionRecords(partition)) {
    if (ids.has(tableElement(record, partition).id)) out.push(record);
  }
  return out;
}
