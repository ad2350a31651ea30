import { createHash } from "node:crypto";
import { DfsError } from "../errors.ts";
import { checkPartitionKeyLength, OBJECT_ID_BYTES, tableSchema } from "../formats/index.ts";
import { DEFAULT_PARTITIONS } from "./placement.ts";

/** The label hashed in front of every (table, partition key): no other id can collide with one. */
const LABEL = Buffer.from("dfs-mesh/table-placement/v1\0", "utf8");

/**
 * Where the records of (table, partition key) live, as an object id (64 lowercase hex): its
 * owners are that id's owners (Placement.order). By default SHA-256 over the label, u8 table
 * length ‖ table ‖ u16 partition key length ‖ partition key, so every record of one partition key
 * sits on the same nodes and different keys spread evenly. For a table whose partition key is an
 * object id (src/formats/table-schemas.ts), the key itself: the records live beside the object.
 */
export function recordPlacementId(table: string, partitionKey: Uint8Array): string {
  if (tableSchema(table).partitionKeyIsObjectId) {
    if (partitionKey.length !== OBJECT_ID_BYTES) {
      throw new DfsError(
        "DFS_ERR_INVALID_RECORD",
        `table ${table}: the partition key is an object id (${OBJECT_ID_BYTES} bytes), not ${partitionKey.length} bytes`,
      );
    }
    return Buffer.from(partitionKey).toString("hex");
  }
  checkPartitionKeyLength(partitionKey.length);
  const name = Buffer.from(table, "utf8");
  const lengths = Buffer.allocUnsafe(3);
  lengths.writeUInt8(name.length, 0);
  lengths.writeUInt16BE(partitionKey.length, 1);
  return createHash("sha256")
    .update(LABEL)
    .update(lengths.subarray(0, 1))
    .update(name)
    .update(lengths.subarray(1))
    .update(partitionKey)
    .digest("hex");
}

/**
 * The partition (0..65535) of a placement id among the default 65,536: its leading 16 bits, as
 * Placement.partitionOf computes it with the default count. Nodes keep records grouped by it.
 */
export function recordPartition(placementId: string): number {
  return Number.parseInt(placementId.slice(0, 4), 16);
}

/** The number of partitions records are grouped by (the placement default). */
export const RECORD_PARTITIONS = DEFAULT_PARTITIONS;
