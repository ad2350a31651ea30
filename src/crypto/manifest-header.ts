import { DfsError } from "../errors.ts";
import { MANIFEST_FORMAT, NONCE_BYTES, TAG_BYTES } from "./format.ts";

/** What a stored manifest object is: a file's manifest, or the tombstone a delete left. */
export type ManifestType = "manifest" | "tombstone";

/** The clear (authenticated, unencrypted) part of a sealed manifest: what nodes may read. */
export interface ManifestHeader {
  type: ManifestType;
  /** Milliseconds since the epoch: between two objects under one id, the higher stamp wins. */
  stamp: number;
  /** Distinct chunk ids the manifest references, in file order; empty for a tombstone. */
  chunkIds: string[];
  /** Bytes of the clear header (everything before the nonce). */
  bytes: number;
}

/** format, type, stamp, chunk count. */
export const HEADER_FIXED_BYTES = 1 + 1 + 8 + 4;
const TYPE_CODES: Record<ManifestType, number> = { manifest: 1, tombstone: 2 };

export function encodeHeader(type: ManifestType, stamp: number, chunkIds: readonly string[]): Buffer {
  const out = Buffer.alloc(HEADER_FIXED_BYTES + 32 * chunkIds.length);
  out[0] = MANIFEST_FORMAT;
  out[1] = TYPE_CODES[type];
  out.writeBigUInt64BE(BigInt(stamp), 2);
  out.writeUInt32BE(chunkIds.length, 10);
  chunkIds.forEach((id, i) => {
    out.write(id, HEADER_FIXED_BYTES + 32 * i, 32, "hex");
  });
  return out;
}

/**
 * Parses the clear header of a sealed manifest (format.ts), or throws DFS_ERR_CORRUPT. Key-free: a
 * twin of this parser lives in src/node/heal/manifest-header.ts, for nodes.
 */
export function parseHeader(sealed: Buffer): ManifestHeader {
  if (sealed.length < HEADER_FIXED_BYTES) throw corrupt("too short to be a sealed manifest");
  if (sealed[0] !== MANIFEST_FORMAT) throw corrupt(`unknown manifest format ${sealed[0]}`);
  const code = sealed[1];
  const type: ManifestType | undefined = code === 1 ? "manifest" : code === 2 ? "tombstone" : undefined;
  if (type === undefined) throw corrupt(`unknown manifest type ${code}`);
  const stamp = Number(sealed.readBigUInt64BE(2));
  if (!Number.isSafeInteger(stamp)) throw corrupt("manifest stamp out of range");
  const n = sealed.readUInt32BE(10);
  const bytes = HEADER_FIXED_BYTES + 32 * n;
  if (sealed.length < bytes + NONCE_BYTES + TAG_BYTES) throw corrupt("manifest shorter than its header says");
  if (type === "tombstone" && n !== 0) throw corrupt("a tombstone lists chunks");
  const chunkIds: string[] = [];
  for (let i = 0; i < n; i++) {
    chunkIds.push(sealed.toString("hex", HEADER_FIXED_BYTES + 32 * i, HEADER_FIXED_BYTES + 32 * (i + 1)));
  }
  return { type, stamp, chunkIds, bytes };
}

function corrupt(message: string): DfsError {
  return new DfsError("DFS_ERR_CORRUPT", message);
}
