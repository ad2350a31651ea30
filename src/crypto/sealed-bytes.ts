import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { NONCE_BYTES, TAG_BYTES } from "./format.ts";

/** What `sealBytes` adds to the plaintext: a 12-byte nonce before it, a 16-byte tag after. */
export const SEALED_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/**
 * A small secret sealed with AES-256-GCM under `key`: nonce (12 bytes, random) | ciphertext | tag.
 * Random 96-bit nonces suit keys that seal far fewer than 2^32 times (access-key secrets, console
 * session cookies). `additional` is authenticated, not stored: opening needs the same bytes.
 */
export function sealBytes(key: Buffer, plain: Uint8Array, additional?: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  if (additional) cipher.setAAD(additional);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * The plaintext of `sealBytes`'s output, or undefined when it is too short, was altered, was
 * sealed under another key or with other additional data.
 */
export function openBytes(key: Buffer, sealed: Uint8Array, additional?: Uint8Array): Buffer | undefined {
  if (sealed.length < SEALED_OVERHEAD) return undefined;
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, NONCE_BYTES));
  if (additional) decipher.setAAD(additional);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}
