/**
 * Key-free formats every layer may know: object ids and kinds, the clear header of a sealed
 * manifest, the shapes nodes list and serve objects in, and what a node reports about itself.
 * A leaf: it imports nothing of the project but errors.ts.
 */
export type { HealCounters, StoreCounters, StoreUsage } from "./counters.ts";
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
