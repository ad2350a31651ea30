import {
  type ObjectSignatures,
  parseTrailer,
  type Signing,
  TRAILER_MAX_BYTES,
  type Trailer,
} from "../../credentials/index.ts";
import {
  HEADER_FIXED_BYTES,
  headerBytesFor,
  type ManifestHeader,
  parseManifestHeader,
  wins,
} from "../../formats/index.ts";

/** How a node ranks a copy of a manifest object: its clear header and who vouches for it. */
export interface Version {
  readonly header: ManifestHeader;
  readonly signing: Signing;
}

const TYPE_CODES = { manifest: 1, tombstone: 2 } as const;

/**
 * A copy of a manifest object as read: its clear header and its trailer
 * (src/credentials/object-signature.ts). The signature is checked only when asked (`signing`),
 * once: two copies with the same header and trailer are the same version, and that needs no
 * check (repair compares copies that are all alike most of the time). Without `signatures` (no
 * cluster authority configured) every copy counts as signed: ranking is by stamp alone.
 */
export class Copy implements Version {
  readonly header: ManifestHeader;
  readonly #id: string;
  readonly #headerBytes: Buffer;
  readonly #trailer: Trailer | undefined;
  readonly #sealed: Buffer | undefined;
  readonly #signatures: ObjectSignatures | undefined;
  #signing: Signing | undefined;

  constructor(
    id: string,
    header: ManifestHeader,
    head: Buffer,
    tail: Buffer,
    size: number,
    signatures: ObjectSignatures | undefined,
    whole?: Buffer,
  ) {
    this.header = header;
    this.#id = id;
    this.#headerBytes = head.subarray(0, headerBytesFor(header.chunkIds.length));
    this.#trailer = signatures ? parseTrailer(tail, size) : undefined;
    this.#sealed = whole && this.#trailer ? whole.subarray(0, whole.length - this.#trailer.bytes) : undefined;
    this.#signatures = signatures;
  }

  /** "signed" when a gateway vouches for this version (and, read whole, these bytes). */
  get signing(): Signing {
    if (this.#signatures === undefined) return "signed";
    this.#signing ??= this.#signatures.classify(
      {
        id: this.#id,
        type: TYPE_CODES[this.header.type],
        stamp: this.header.stamp,
        header: this.#headerBytes,
      },
      this.#trailer,
      this.#sealed,
    );
    return this.#signing;
  }

  /** The same header and the same trailer: one version, vouched for alike. */
  same(other: Copy): boolean {
    const a = this.#trailer;
    const b = other.#trailer;
    if (!this.#headerBytes.equals(other.#headerBytes)) return false;
    if (a === undefined || b === undefined) return a === b;
    return (
      a.signature.equals(b.signature) &&
      a.credential.equals(b.credential) &&
      a.sealedDigest.equals(b.sealedDigest)
    );
  }
}

/**
 * A copy from its leading bytes (at least the clear header) and its last bytes (at least the
 * trailer; the whole object when `tail` covers it). Undefined when the header does not parse.
 * `whole`: the entire object, so the digest of the sealed bytes is checked too.
 */
export function copyOf(
  id: string,
  head: Buffer,
  tail: Buffer,
  size: number,
  signatures: ObjectSignatures | undefined,
  whole?: Buffer,
): Copy | undefined {
  const header = parseManifestHeader(head);
  if (header === undefined || "need" in header) return undefined;
  return new Copy(id, header, head, tail, size, signatures, whole);
}

/** A whole object's copy (a PUT body, a local copy read whole). */
export function copyOfWhole(
  id: string,
  data: Buffer,
  signatures: ObjectSignatures | undefined,
): Copy | undefined {
  return copyOf(id, data, data, data.length, signatures, data);
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

/** isCurrent, without a signature check when the two copies are the same version. */
export function currentBeside(mine: Copy, theirs: Copy | undefined): boolean {
  return theirs !== undefined && (mine.same(theirs) || isCurrent(mine, theirs));
}
