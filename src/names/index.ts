/**
 * The naming service: buckets and keys over the tables, files through a small `Files` interface
 * the gateway implements. Imports no HTTP framework: the /v1 routes and the S3 listener both call it.
 */
export { checkConditions, etagListMatches } from "./conditions.ts";
export type { Files, Sha256Check, StoredFile, StoreOptions } from "./files.ts";
export { FILE_HOLDERS_TABLE, HASH_API_HOLDER, HOLDER_BYTES, HolderKind, newHolder } from "./holders.ts";
export { decodeCursor, encodeCursor } from "./listing.ts";
export { MAX_PART_NUMBER, uploadsCursor } from "./multipart.ts";
export { OBJECTS_TABLE } from "./records.ts";
export { checkBucketName, keyBytes, MAX_KEY_BYTES } from "./rules.ts";
export { type NameServiceOptions, Names } from "./service.ts";
export type * from "./types.ts";
