import { randomBytes } from "node:crypto";

/**
 * Holders of a file (table file_holders, partition key = the file's manifest id, placed beside
 * the manifest): a sort key of one kind byte and 32 bytes. A file is kept while one holder record
 * is live; files without any record (stored before names existed) count as held by the hash API.
 * A key version and a multipart part each hold their file under a random id kept in their own
 * record, so retracting an overwritten version never retracts a newer one's hold.
 */
export const FILE_HOLDERS_TABLE = "file_holders";

export const HolderKind = { HASH_API: 0x01, KEY: 0x02, PART: 0x03 } as const;

export const HOLDER_BYTES = 33;

/** The hash API's one holder (/v1/files): kind 0x01, 32 zero bytes. */
export const HASH_API_HOLDER: Buffer = Buffer.concat([Buffer.of(HolderKind.HASH_API), Buffer.alloc(32)]);

/** A new holder of a kind (a key version's, a part's). */
export function newHolder(kind: (typeof HolderKind)["KEY" | "PART"]): Buffer {
  return Buffer.concat([Buffer.of(kind), randomBytes(32)]);
}
