/**
 * The clear header of a sealed manifest (format 2, documented in src/crypto/format.ts), read
 * without any key: nodes see which chunks a manifest references and whether it is a tombstone.
 * A twin of src/crypto/manifest-header.ts, which nodes may not import; a test checks they agree.
 */
export type ManifestType = "manifest" | "tombstone";

export interface ManifestHeader {
  type: ManifestType;
  /** ms since the epoch; between two objects under one id the higher stamp wins. */
  stamp: number;
  /** Distinct chunk ids referenced; empty for a tombstone. */
  chunkIds: string[];
}

export const MANIFEST_FORMAT_V2 = 0x02;
/** format, type, stamp, count. */
export const HEADER_FIXED_BYTES = 14;
/** Enough bytes for the header of a manifest of this many chunks. */
export const headerBytesFor = (chunks: number): number => HEADER_FIXED_BYTES + 32 * chunks;

/**
 * Parses the header at the start of `bytes`. Returns undefined when the bytes are not a format-2
 * header; `{ need }` when more bytes are needed to read every chunk id.
 */
export function parseManifestHeader(bytes: Buffer): ManifestHeader | { need: number } | undefined {
  if (bytes.length < HEADER_FIXED_BYTES || bytes[0] !== MANIFEST_FORMAT_V2) return undefined;
  const type = bytes[1] === 1 ? "manifest" : bytes[1] === 2 ? "tombstone" : undefined;
  if (type === undefined) return undefined;
  const stamp = Number(bytes.readBigUInt64BE(2));
  const n = bytes.readUInt32BE(10);
  if (!Number.isSafeInteger(stamp) || (type === "tombstone" && n !== 0)) return undefined;
  const need = headerBytesFor(n);
  if (bytes.length < need) return { need };
  const chunkIds: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = HEADER_FIXED_BYTES + 32 * i;
    chunkIds.push(bytes.toString("hex", at, at + 32));
  }
  return { type, stamp, chunkIds };
}

/** True when `a` wins over `b` under one id: higher stamp, a tombstone on a tie. */
export function wins(a: ManifestHeader, b: ManifestHeader): boolean {
  if (a.stamp !== b.stamp) return a.stamp > b.stamp;
  return a.type === "tombstone" && b.type === "manifest";
}
