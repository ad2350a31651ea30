import type { GatewayConfig } from "../config/index.ts";
import { CHUNK_OVERHEAD, MANIFEST_MAX_BYTES } from "../crypto/index.ts";
import { DfsError } from "../errors.ts";

/** Nodes refuse objects over their maxObjectBytes, 64 MiB by default: a sealed chunk must fit. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024 - CHUNK_OVERHEAD;

/** A manifest's JSON entry per chunk: two 64-char hashes, a size and the keys, rounded up. */
const MANIFEST_ENTRY_BYTES = 180;

/** The most chunks one manifest can list. */
export const MAX_CHUNKS_PER_FILE = Math.floor(MANIFEST_MAX_BYTES / MANIFEST_ENTRY_BYTES);

/** A chunk size nodes cannot take is refused at startup, not at the first upload. */
export function checkChunkBytes(chunkBytes: number): void {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new DfsError("DFS_ERR_CONFIG", `gateway.chunkBytes: must be between 1 and ${MAX_CHUNK_BYTES}`);
  }
}

/**
 * The largest upload that can actually be stored: maxUploadBytes, unless a file that large would
 * need more chunks than a manifest can list. Enforced while the upload streams (413), so such a
 * file fails at once rather than at its very end.
 */
export function effectiveMaxUpload(
  g: Pick<GatewayConfig["gateway"], "chunkBytes" | "maxUploadBytes">,
): number {
  return Math.min(g.maxUploadBytes, MAX_CHUNKS_PER_FILE * g.chunkBytes);
}
