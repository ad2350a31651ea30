import { DfsError } from "../errors.ts";
import { OBJECT_ID_PATTERN } from "../formats/index.ts";

/** A file id from a URL: lowercase hex SHA-256, as `sha256sum` prints it. */
export function parseHash(value: string): string {
  if (!OBJECT_ID_PATTERN.test(value)) {
    throw new DfsError("DFS_ERR_INVALID_HASH", "a file id is 64 lowercase hex characters (its SHA-256)", {
      details: { hash: value.slice(0, 80) },
    });
  }
  return value;
}
