import { createHash } from "node:crypto";
import type { Credential } from "./credential.ts";
import { SIGNATURE_BYTES } from "./ed25519.ts";
import { type Identity, signAs, type TrustAnchor } from "./identity.ts";

/**
 * The signature a gateway appends to every sealed manifest and tombstone it writes, so storage
 * nodes, which hold no key, can tell a version a gateway made from one anyone else wrote. The
 * sealed bytes are unchanged (their clear header still starts the object); the trailer follows:
 *
 *   32     SHA-256 of the sealed bytes (everything before the trailer)
 *   c      the gateway's credential (src/credentials/credential.ts)
 *   64     Ed25519 signature, under the gateway's key, of
 *            SIGNATURE_LABEL || object id (32) || type (1) || stamp (u64 BE) ||
 *            SHA-256 of the clear header (32) || SHA-256 of the sealed bytes (32)
 *   2      c, u16 BE
 *   1      trailer version, 1
 *   4      magic "DFSG": the object's last bytes
 *
 * An object without the magic is unsigned (written before signing existed). A sealed object's last
 * 16 bytes are a GCM tag, so one ends in the magic and version by chance with probability 2^-40.
 * The digest of the sealed bytes is in the clear so a node can check a peer's copy from its header
 * and trailer alone (who signed what version); a node holding the whole object checks the digest too.
 */
export const SIGNATURE_LABEL = "dfs-mesh/v1/manifest-version";
export const TRAILER_VERSION = 1;
const MAGIC = Buffer.from("DFSG");
const DIGEST_BYTES = 32;
/** Bytes of the trailer besides the credential. */
export const TRAILER_FIXED_BYTES = DIGEST_BYTES + SIGNATURE_BYTES + 2 + 1 + MAGIC.length;
/** The largest trailer: a credential is at most 7 + 255 + 32 + 16 + 64 bytes. */
export const TRAILER_MAX_BYTES = TRAILER_FIXED_BYTES + 374;

/** What a signature vouches for: the version of one object, as its clear header states it. */
export interface ObjectVersion {
  /** The object id, 64 lowercase hex. */
  readonly id: string;
  /** The header's type code (1 manifest, 2 tombstone). */
  readonly type: number;
  readonly stamp: number;
  /** The clear header's bytes. */
  readonly header: Buffer;
}

export interface Trailer {
  readonly sealedDigest: Buffer;
  readonly credential: Buffer;
  readonly signature: Buffer;
  /** Bytes of the whole trailer. */
  readonly bytes: number;
}

function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

function message(v: ObjectVersion, sealedDigest: Buffer): Buffer {
  const out = Buffer.alloc(32 + 1 + 8 + DIGEST_BYTES * 2);
  out.write(v.id, 0, 32, "hex");
  out.writeUInt8(v.type, 32);
  out.writeBigUInt64BE(BigInt(v.stamp), 33);
  sha256(v.header).copy(out, 41);
  sealedDigest.copy(out, 41 + DIGEST_BYTES);
  return out;
}

/** The sealed bytes with the signing gateway's trailer appended. */
export function signObject(identity: Identity, version: ObjectVersion, sealed: Buffer): Buffer {
  const sealedDigest = sha256(sealed);
  const signature = signAs(identity, SIGNATURE_LABEL, message(version, sealedDigest));
  const credential = identity.credential.encoded;
  const tail = Buffer.alloc(2 + 1 + MAGIC.length);
  tail.writeUInt16BE(credential.length, 0);
  tail.writeUInt8(TRAILER_VERSION, 2);
  MAGIC.copy(tail, 3);
  return Buffer.concat([sealed, sealedDigest, credential, signature, tail]);
}

/**
 * The trailer at the end of `tail` (an object's last bytes, or all of it), or undefined when the
 * object carries none. `objectBytes` is the whole object's size: a trailer cannot be longer.
 */
export function parseTrailer(tail: Buffer, objectBytes = tail.length): Trailer | undefined {
  const n = tail.length;
  if (n < TRAILER_FIXED_BYTES || !tail.subarray(n - MAGIC.length).equals(MAGIC)) return undefined;
  if (tail[n - MAGIC.length - 1] !== TRAILER_VERSION) return undefined;
  const c = tail.readUInt16BE(n - MAGIC.length - 3);
  const bytes = TRAILER_FIXED_BYTES + c;
  if (bytes > n || bytes > objectBytes) return undefined;
  const start = n - bytes;
  return {
    sealedDigest: tail.subarray(start, start + DIGEST_BYTES),
    credential: tail.subarray(start + DIGEST_BYTES, start + DIGEST_BYTES + c),
    signature: tail.subarray(start + DIGEST_BYTES + c, start + DIGEST_BYTES + c + SIGNATURE_BYTES),
    bytes,
  };
}

/** The sealed bytes of a stored object: without its trailer, if it has one. */
export function sealedPart(stored: Buffer): Buffer {
  const trailer = parseTrailer(stored);
  return trailer ? stored.subarray(0, stored.length - trailer.bytes) : stored;
}

/** How a copy of a manifest object stands: signed by a gateway, unsigned (older), or not to be trusted. */
export type Signing = "signed" | "unsigned" | "bad";

/**
 * Checks a trailer against the version the object's header states: the credential is a gateway's
 * and in force, and it signed this id, type, stamp and header. With `sealed` (the whole object's
 * bytes before the trailer), their digest must match too. Remembers signatures it verified.
 */
export class ObjectSignatures {
  readonly #anchor: TrustAnchor;
  readonly #verified = new Map<string, true>();
  static readonly #CACHE = 65_536;

  constructor(anchor: TrustAnchor) {
    this.#anchor = anchor;
  }

  /** Who signed the version, or undefined when the trailer does not vouch for it. */
  check(version: ObjectVersion, trailer: Trailer | undefined, sealed?: Buffer): Credential | undefined {
    if (trailer === undefined) return undefined;
    if (sealed !== undefined && !sha256(sealed).equals(trailer.sealedDigest)) return undefined;
    let credential: Credential;
    try {
      // In force when the version was stamped: objects outlive their gateway's credential.
      credential = this.#anchor.credentialAt(trailer.credential, version.stamp, "gateway");
    } catch {
      return undefined;
    }
    const msg = message(version, trailer.sealedDigest);
    const key = sha256(Buffer.concat([msg, trailer.signature, trailer.credential])).toString("base64");
    if (this.#verified.has(key)) return credential;
    if (!this.#anchor.signedBy(credential, SIGNATURE_LABEL, msg, trailer.signature)) return undefined;
    if (this.#verified.size >= ObjectSignatures.#CACHE)
      this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(key, true);
    return credential;
  }

  /** "signed", "unsigned" (no trailer at all) or "bad" (a trailer that does not vouch for it). */
  classify(version: ObjectVersion, trailer: Trailer | undefined, sealed?: Buffer): Signing {
    if (trailer === undefined) return "unsigned";
    return this.check(version, trailer, sealed) ? "signed" : "bad";
  }
}
