import { DfsError } from "../errors.ts";

/** The longest key, in UTF-8 bytes (as S3). */
export const MAX_KEY_BYTES = 1024;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * S3's bucket naming rules: 3-63 characters of lower-case letters, digits, dots and hyphens,
 * starting and ending with a letter or digit, no "..", not shaped like an IPv4 address, none of
 * the reserved prefixes and suffixes. DFS_ERR_INVALID_NAME otherwise.
 */
export function checkBucketName(name: string): void {
  const bad = (why: string) =>
    new DfsError("DFS_ERR_INVALID_NAME", `bucket name "${name.slice(0, 80)}": ${why}`);
  if (!BUCKET.test(name)) {
    throw bad(
      "3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit",
    );
  }
  if (name.includes("..")) throw bad("no two dots in a row");
  if (IPV4.test(name)) throw bad("not an IP address");
  if (name.startsWith("xn--") || name.startsWith("sthree-") || name.endsWith("-s3alias")) {
    throw bad("a reserved prefix or suffix");
  }
}

/** A key: 1..1024 bytes of UTF-8 (a lone surrogate does not encode, so it is refused). */
export function keyBytes(key: string): Buffer {
  if (key.length === 0) throw new DfsError("DFS_ERR_INVALID_NAME", "a key is at least one byte");
  if (!key.isWellFormed()) throw new DfsError("DFS_ERR_INVALID_NAME", "a key is valid UTF-8");
  const bytes = Buffer.from(key, "utf8");
  if (bytes.length > MAX_KEY_BYTES) {
    throw new DfsError(
      "DFS_ERR_INVALID_NAME",
      `a key is at most ${MAX_KEY_BYTES} bytes of UTF-8, not ${bytes.length}`,
    );
  }
  return bytes;
}

/** The smallest byte string greater than every string that starts with `prefix`; undefined if none (all 0xff). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return undefined;
  const end = Buffer.from(prefix.subarray(0, n));
  end[n - 1]! += 1;
  return end;
}
