import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import { DfsError } from "../errors.ts";

/** Raw Ed25519 keys are 32 bytes; a signature is 64. */
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

// DER prefixes that wrap a raw Ed25519 key as PKCS#8 (private) and SPKI (public), RFC 8410.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface SigningKey {
  readonly privateKey: KeyObject;
  /** The raw 32-byte public key. */
  readonly publicKey: Buffer;
}

export function newSeed(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** The key pair of a 32-byte seed (RFC 8032's private key). */
export function signingKeyFromSeed(seed: Buffer): SigningKey {
  if (seed.length !== KEY_BYTES) throw new DfsError("DFS_ERR_CONFIG", "an Ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return { privateKey, publicKey: Buffer.from(spki.subarray(SPKI_PREFIX.length)) };
}

export function publicKeyObject(raw: Buffer): KeyObject {
  if (raw.length !== KEY_BYTES) throw new DfsError("DFS_ERR_AUTH", "an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/**
 * Signs `label || message`. Every use has its own label, so a signature made for one purpose
 * (a credential, a registry record, a manifest) can never be presented as another.
 */
export function signLabelled(key: KeyObject, label: string, message: Buffer): Buffer {
  return sign(null, Buffer.concat([Buffer.from(label), message]), key);
}

export function verifyLabelled(key: KeyObject, label: string, message: Buffer, signature: Buffer): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  return verify(null, Buffer.concat([Buffer.from(label), message]), key, signature);
}
