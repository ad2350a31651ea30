import {
  type ObjectSignatures,
  parseTrailer,
  type Signing,
  TRAILER_MAX_BYTES,
} from "../../credentials/index.ts";
import {
  HEADER_FIXED_BYTES,
  headerBytesFor,
  type ManifestHeader,
  parseManifestHeader,
  wins,
} from "../../formats/index.ts";

/**
 * A copy of a manifest object as a node ranks it: its clear header and whether a gateway signed
 * that version (src/credentials/object-signature.ts). Without an anchor (no cluster authority
 * configured) every copy counts as signed: ranking is by stamp alone.
 */
export interface Version {
  header: ManifestHeader;
  signing: Signing;
}

const TYPE_CODES = { manifest: 1, tombstone: 2 } as const;

/**
 * The version of a copy from its leading bytes (at least the clear header) and its last bytes
 * (at least the trailer; the whole object when `tail` covers it). Undefined when the header does
 * not parse. `whole`: the entire object, so the digest of the sealed bytes is checked too.
 */
export function versionOf(
  id: string,
  head: Buffer,
  tail: Buffer,
  size: number,
  signatures: ObjectSignatures | undefined,
  whole?: Buffer,
): Version | undefined {
  const header = parseManifestHeader(head);
  if (header === undefined || "need" in header) return undefined;
  if (signatures === undefined) return { header, signing: "signed" };
  const trailer = parseTrailer(tail, size);
  const headerBytes = head.subarray(0, headerBytesFor(header.chunkIds.length));
  const sealed = whole && trailer ? whole.subarray(0, whole.length - trailer.bytes) : undefined;
  const version = { id, type: TYPE_CODES[header.type], stamp: header.stamp, header: headerBytes };
  return { header, signing: signatures.classify(version, trailer, sealed) };
}

/** The whole object's version (a PUT body, a local copy read whole). */
export function versionOfWhole(
  id: string,
  data: Buffer,
  signatures: ObjectSignatures | undefined,
): Version | undefined {
  return versionOf(id, data, data, data.length, signatures, data);
}

/** How many bytes to read from the start and the end of an object to learn its version. */
export const HEAD_BYTES = HEADER_FIXED_BYTES;
export const TAIL_BYTES = TRAILER_MAX_BYTES;

/**
 * Whether `theirs` is a current copy next to `mine`: a holder with a current copy needs nothing
 * from us, and counts towards the copies that let a non-owner drop its own.
 * - An unsigned or badly signed copy never wins and never makes a holder current, except an
 *   unsigned copy beside our unsigned copy of the same version (objects older than signing).
 * - A signed copy is current when ours does not win over it (higher stamp, tombstone on a tie).
 */
export function isCurrent(mine: Version, theirs: Version | undefined): boolean {
  if (theirs === undefined || theirs.signing === "bad") return false;
  if (theirs.signing === "unsigned") {
    return (
      mine.signing === "unsigned" &&
      theirs.header.type === mine.header.type &&
      theirs.header.stamp === mine.header.stamp
    );
  }
  return !wins(mine.header, theirs.header);
}
