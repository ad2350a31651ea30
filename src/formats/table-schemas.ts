import { checkTableName } from "./records.ts";

/**
 * What every process must agree on about a table: how its records are placed. A table not
 * declared here is placed by a hash of (table, partition key); a table whose partition key IS an
 * object id (32 bytes) is placed on that object's owners, so its records sit beside the object
 * (src/placement/records.ts). A table's placement never changes once records exist: changing it
 * would strand them on nodes that no longer own them.
 */
export interface TableSchema {
  readonly name: string;
  /** The partition key is a 32-byte object id, used as the placement id directly. */
  readonly partitionKeyIsObjectId: boolean;
}

/** Tables placed otherwise than by hash. */
const DECLARED: Readonly<Record<string, TableSchema>> = {
  // Chunk references: the references of chunk X live on chunk X's owners, so a node decides
  // whether to collect a chunk from its own tables alone.
  chunk_refs: { name: "chunk_refs", partitionKeyIsObjectId: true },
  // Who holds a file (a key, a multipart part, the hash API): partition key = the file's manifest
  // id, so the holders sit beside the manifest and a release reads them from the same owners.
  file_holders: { name: "file_holders", partitionKeyIsObjectId: true },
};

/** The schema of `table` (a checked name): its declaration, or placement by hash. */
export function tableSchema(table: string): TableSchema {
  checkTableName(table);
  // hasOwn: "constructor" is a valid table name, and no declaration.
  return Object.hasOwn(DECLARED, table) ? DECLARED[table]! : { name: table, partitionKeyIsObjectId: false };
}
