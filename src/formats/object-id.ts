import { DfsError } from "../errors.ts";

/**
 * Object ids: 32 bytes, written as 64 lowercase hex characters. A chunk's id is the SHA-256 of its
 * sealed bytes, a manifest's is keyed from its file's hash, and a file's id is the SHA-256 of its
 * plaintext (what `sha256sum` prints); all three share this form, as do the plaintext hashes in a
 * manifest.
 */
export const OBJECT_ID_BYTES = 32;
export const OBJECT_ID_PATTERN = /^[0-9a-f]{64}$/;

/** True for 64 lowercase hex characters. */
export function isObjectId(value: unknown): value is string {
  return typeof value === "string" && OBJECT_ID_PATTERN.test(value);
}

/** The 32 raw bytes of an id, or DFS_ERR_INVALID_HASH when it is not 64 lowercase hex characters. */
export function objectIdBytes(hex: string): Buffer {
  if (!isObjectId(hex)) throw new DfsError("DFS_ERR_INVALID_HASH", "not a lowercase hex SHA-256");
  return Buffer.from(hex, "hex");
}

/** The id whose raw bytes start at `at` in `bytes`, as hex. */
export function objectIdAt(bytes: Buffer, at: number): string {
  return bytes.toString("hex", at, at + OBJECT_ID_BYTES);
}
