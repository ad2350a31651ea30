import { OBJECT_ID_BYTES, objectIdAt } from "./object-id.ts";

/**
 * The clear header of a sealed manifest, format 2: the part nodes, which hold no key, can read to
 * see which chunks a manifest references and whether it is a tombstone. It is authenticated with
 * the rest of the sealed manifest (src/crypto/format.ts documents the whole layout and seals it):
 *
 *   offset  size  field
 *   0       1     format = MANIFEST_FORMAT (0x02)
 *   1       1     type: 1 = manifest, 2 = tombstone (a delete)
 *   2       8     stamp, u64 big-endian ms since the epoch (a manifest's createdAt, a delete's time)
 *   10      4     n, u32 big-endian: distinct chunk ids referenced (0 for a tombstone)
 *   14      32n   chunk ids, raw, in order of first use in the file
 */
export const MANIFEST_FORMAT = 0x02;

/** What a stored manifest object is: a file's manifest, or the tombstone a delete left. */
export type ManifestType = "manifest" | "tombstone";

export interface ManifestHeader {
  type: ManifestType;
  /** Milliseconds since the epoch: between two objects under one id, the higher stamp wins. */
  stamp: number;
  /** Distinct chunk ids the manifest references, in file order; empty for a tombstone. */
  chunkIds: string[];
}

/** format, type, stamp, chunk count. */
export const HEADER_FIXED_BYTES = 1 + 1 + 8 + 4;
/** Bytes of the header of a manifest of this many chunks. */
export const headerBytesFor = (chunks: number): number => HEADER_FIXED_BYTES + OBJECT_ID_BYTES * chunks;

const TYPE_CODES: Record<ManifestType, number> = { manifest: 1, tombstone: 2 };

export function encodeManifestHeader(type: ManifestType, stamp: number, chunkIds: readonly string[]): Buffer {
  const out = Buffer.alloc(headerBytesFor(chunkIds.length));
  out[0] = MANIFEST_FORMAT;
  out[1] = TYPE_CODES[type];
  out.writeBigUInt64BE(BigInt(stamp), 2);
  out.writeUInt32BE(chunkIds.length, 10);
  chunkIds.forEach((id, i) => {
    out.write(id, HEADER_FIXED_BYTES + OBJECT_ID_BYTES * i, OBJECT_ID_BYTES, "hex");
  });
  return out;
}

/**
 * Parses the header at the start of `bytes`, without any key. Undefined when the bytes are not a
 * format-2 header (unknown format or type, a stamp past 2^53, a tombstone listing chunks); `{ need }`
 * when more bytes are needed to read every chunk id.
 */
export function parseManifestHeader(bytes: Buffer): ManifestHeader | { need: number } | undefined {
  if (bytes.length < HEADER_FIXED_BYTES || bytes[0] !== MANIFEST_FORMAT) return undefined;
  const type = bytes[1] === 1 ? "manifest" : bytes[1] === 2 ? "tombstone" : undefined;
  if (type === undefined) return undefined;
  const stamp = Number(bytes.readBigUInt64BE(2));
  const n = bytes.readUInt32BE(10);
  if (!Number.isSafeInteger(stamp) || (type === "tombstone" && n !== 0)) return undefined;
  const need = headerBytesFor(n);
  if (bytes.length < need) return { need };
  const chunkIds: string[] = [];
  for (let i = 0; i < n; i++) chunkIds.push(objectIdAt(bytes, HEADER_FIXED_BYTES + OBJECT_ID_BYTES * i));
  return { type, stamp, chunkIds };
}

/** True when `a` wins over `b` under one id: higher stamp, a tombstone on a tie. */
export function wins(a: ManifestHeader, b: ManifestHeader): boolean {
  if (a.stamp !== b.stamp) return a.stamp > b.stamp;
  return a.type === "tombstone" && b.type === "manifest";
}
