/**
 * Key-free formats every layer may know: object ids and kinds, the clear header of a sealed
 * manifest, the shapes nodes list and serve objects in, what a node reports about itself, and
 * table records (their versions, hybrid logical clock, bounds, merge order and table schemas).
 * A leaf: it imports nothing of the project but errors.ts.
 */

export {
  CHUNK_REFS_TABLE,
  type ChunkFate,
  type ChunkRef,
  chunkFate,
  manifestRef,
  manifestRefKey,
  parseChunkRef,
  uploadHold,
  uploadHoldKey,
} from "./chunk-refs.ts";
export type { HealCounters, StoreCounters, StoreUsage } from "./counters.ts";
export {
  DEFAULT_MAX_AHEAD_MS,
  HLC_MAX,
  HybridClock,
  type HybridClockOptions,
  hlcLogical,
  hlcMs,
  hlcOf,
} from "./hlc.ts";
export {
  encodeManifestHeader,
  HEADER_FIXED_BYTES,
  headerBytesFor,
  MANIFEST_FORMAT,
  type ManifestHeader,
  type ManifestType,
  parseManifestHeader,
  wins,
} from "./manifest-header.ts";
export { isObjectId, OBJECT_ID_BYTES, OBJECT_ID_PATTERN, objectIdAt, objectIdBytes } from "./object-id.ts";
export type { ListPage, ObjectKind, ObjectSource } from "./objects.ts";
export {
  type ApplyResult,
  checkPartitionKeyLength,
  checkRecord,
  checkSortKeyLength,
  checkTableName,
  checkValueLength,
  checkWriterLength,
  compareRecords,
  compareVersions,
  isTableName,
  newestOf,
  RecordLimits,
  supersedes,
  type TableRecord,
  type Version,
} from "./records.ts";
export { type TableSchema, tableSchema } from "./table-schemas.ts";
