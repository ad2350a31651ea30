import type { KeyObject } from "node:crypto";
import { DfsError } from "../errors.ts";
import { KEY_BYTES, SIGNATURE_BYTES, type SigningKey, signLabelled, verifyLabelled } from "./ed25519.ts";

/**
 * A credential: the cluster authority's statement that a public key holds a role under an id.
 *
 *   0-3    magic "DFSC"
 *   4      format version, 1
 *   5      role: 1 node, 2 gateway, 3 admin
 *   6      id length n (1-255)
 *   7..    id, UTF-8 (a node's id, or a gateway's or admin's name)
 *   +32    the holder's Ed25519 public key, raw
 *   +8     issued at, ms since the epoch, u64 BE
 *   +8     not after, ms since the epoch, u64 BE
 *   +64    the authority's Ed25519 signature of every byte before it, under CREDENTIAL_LABEL
 *
 * Verifying one needs only the authority's public key, which every process is given.
 */
export const CREDENTIAL_VERSION = 1;
const MAGIC = Buffer.from("DFSC");
const CREDENTIAL_LABEL = "dfs-mesh/v1/credential";
const FIXED_BYTES = MAGIC.length + 3 + KEY_BYTES + 16 + SIGNATURE_BYTES;
/** A credential's issue time may be ahead of the verifier's clock by this much (clock skew). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export const ROLES = { node: 1, gateway: 2, admin: 3 } as const;
export type Role = keyof typeof ROLES;
const roleByNumber = new Map<number, Role>(Object.entries(ROLES).map(([k, v]) => [v, k as Role]));

export interface Credential {
  readonly role: Role;
  readonly id: string;
  /** The holder's raw Ed25519 public key. */
  readonly publicKey: Buffer;
  readonly issuedAtMs: number;
  readonly notAfterMs: number;
  /** The whole signed encoding, as sent and stored. */
  readonly encoded: Buffer;
}

export interface CredentialClaims {
  readonly role: Role;
  readonly id: string;
  readonly publicKey: Buffer;
  readonly issuedAtMs: number;
  readonly notAfterMs: number;
}

function invalid(message: string): DfsError {
  return new DfsError("DFS_ERR_AUTH", `credential: ${message}`);
}

/** The authority signs the claims; the result is what the holder presents. */
export function issueCredential(authority: SigningKey, claims: CredentialClaims): Credential {
  const id = Buffer.from(claims.id, "utf8");
  if (id.length < 1 || id.length > 255)
    throw new DfsError("DFS_ERR_CONFIG", "a credential id is 1-255 bytes");
  if (claims.publicKey.length !== KEY_BYTES) throw new DfsError("DFS_ERR_CONFIG", "a public key is 32 bytes");
  if (!(claims.notAfterMs > claims.issuedAtMs))
    throw new DfsError("DFS_ERR_CONFIG", "notAfter must follow issuedAt");
  const body = Buffer.alloc(FIXED_BYTES - SIGNATURE_BYTES + id.length);
  let at = MAGIC.copy(body, 0);
  at = body.writeUInt8(CREDENTIAL_VERSION, at);
  at = body.writeUInt8(ROLES[claims.role], at);
  at = body.writeUInt8(id.length, at);
  at += id.copy(body, at);
  at += claims.publicKey.copy(body, at);
  at = body.writeBigUInt64BE(BigInt(claims.issuedAtMs), at);
  body.writeBigUInt64BE(BigInt(claims.notAfterMs), at);
  const encoded = Buffer.concat([body, signLabelled(authority.privateKey, CREDENTIAL_LABEL, body)]);
  return Object.freeze({ ...claims, publicKey: Buffer.from(claims.publicKey), encoded });
}

/** Decodes the layout without checking the signature or times; use `verifyCredential` to trust one. */
export function decodeCredential(encoded: Buffer): Credential {
  if (encoded.length < FIXED_BYTES + 1) throw invalid("too short");
  if (!encoded.subarray(0, 4).equals(MAGIC)) throw invalid("bad magic");
  if (encoded[4] !== CREDENTIAL_VERSION) throw invalid(`unsupported version ${encoded[4]}`);
  const role = roleByNumber.get(encoded[5]!);
  if (role === undefined) throw invalid(`unknown role ${encoded[5]}`);
  const idLength = encoded[6]!;
  if (idLength === 0 || encoded.length !== FIXED_BYTES + idLength) throw invalid("bad length");
  let at = 7;
  const id = encoded.toString("utf8", at, at + idLength);
  at += idLength;
  const publicKey = Buffer.from(encoded.subarray(at, at + KEY_BYTES));
  at += KEY_BYTES;
  const issuedAtMs = Number(encoded.readBigUInt64BE(at));
  const notAfterMs = Number(encoded.readBigUInt64BE(at + 8));
  return Object.freeze({ role, id, publicKey, issuedAtMs, notAfterMs, encoded: Buffer.from(encoded) });
}

/**
 * Trusts a credential only when the authority signed it and it is in force at `nowMs`;
 * throws DFS_ERR_AUTH otherwise. Pass `role` to require one.
 */
export function verifyCredential(
  authorityPublicKey: KeyObject,
  encoded: Buffer,
  nowMs: number,
  role?: Role,
): Credential {
  const credential = decodeCredential(encoded);
  const body = encoded.subarray(0, encoded.length - SIGNATURE_BYTES);
  const signature = encoded.subarray(encoded.length - SIGNATURE_BYTES);
  if (!verifyLabelled(authorityPublicKey, CREDENTIAL_LABEL, body, signature)) throw invalid("bad signature");
  if (nowMs > credential.notAfterMs)
    throw invalid(`expired at ${new Date(credential.notAfterMs).toISOString()}`);
  if (credential.issuedAtMs > nowMs + MAX_CLOCK_SKEW_MS) throw invalid("issued in the future");
  if (role !== undefined && credential.role !== role)
    throw invalid(`role ${credential.role}, expected ${role}`);
  return credential;
}
