/**
 * Chunk and manifest encryption, and the sealing of small secrets: the gateway's alone. Storage nodes never import this folder; they
 * only ever see chunk ids and sealed bytes.
 */
export { ChunkCipher, type OpenedManifest, type SealedChunk } from "./cipher.ts";
export {
  CHUNK_FORMAT,
  CHUNK_OVERHEAD,
  LABELS,
  MANIFEST_MAX_BYTES,
  MANIFEST_OVERHEAD,
  sha256Hex,
} from "./format.ts";
export { INLINE_MAX_BYTES, type Manifest, type ManifestChunk } from "./manifest.ts";
export { openBytes, SEALED_OVERHEAD, sealBytes } from "./sealed-bytes.ts";
