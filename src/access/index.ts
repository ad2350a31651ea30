/**
 * Access keys kept in the cluster: the directory over the tables (directory.ts, its records in
 * record.ts, secrets sealed in seal.ts) and the rules of grants per bucket (grants.ts). Used by
 * the gateway's auth hook and admin routes, and by the S3 listener.
 */
export { ACCESS_CACHE_TTL_MS, ClusterAccessKeys, type ClusterAccessKeysOptions } from "./directory.ts";
export { canAccess, canSee, checkGrantBucket, EVERY_BUCKET, withGrant } from "./grants.ts";
export { ACCESS_PARTITION, ACCESS_TABLE, KEY_ID, SECRET_LENGTH } from "./record.ts";
export type { AccessKey, AccessKeyDirectory, BucketAction, BucketGrant, Principal } from "./types.ts";
