export { isObjectId, MANIFEST_HEADER_BYTES } from "./paths.ts";
export { ChunkStore } from "./store.ts";
export type { ObjectSource, ObjectWriter, StoreOptions, StoreStats } from "./types.ts";
