import { DfsError } from "../errors.ts";

const HASH = /^[0-9a-f]{64}$/;

/** A file id from a URL: lowercase hex SHA-256, as `sha256sum` prints it. */
export function parseHash(value: string): string {
  if (!HASH.test(value)) {
    throw new DfsError("DFS_ERR_INVALID_HASH", "a file id is 64 lowercase hex characters (its SHA-256)", {
      details: { hash: value.slice(0, 80) },
    });
  }
  return value;
}
