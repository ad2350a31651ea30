import { DfsError } from "../errors.ts";
import type { Conditions, ObjectInfo } from "./types.ts";

/** True when an entity-tag list names this ETag, or is "*" (weak comparison, RFC 9110 §8.8.3.2). */
export function etagListMatches(header: string, etag: string): boolean {
  for (const raw of header.split(",")) {
    const tag = raw.trim();
    if (tag === "*") return true;
    const opaque = tag.startsWith("W/") ? tag.slice(2) : tag;
    if (opaque.replace(/^"|"$/g, "") === etag) return true;
  }
  return false;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * The preconditions of a request on a key's current version, in RFC 9110's order (§13.2.2):
 * If-Match, else If-Unmodified-Since, fail with DFS_ERR_PRECONDITION (412); then If-None-Match,
 * else If-Modified-Since, make a read "not-modified" (304) and anything else fail with 412.
 * HTTP dates have whole seconds: times are compared in seconds.
 */
export function checkConditions(
  info: ObjectInfo,
  c: Conditions | undefined,
  kind: "read" | "write",
): "proceed" | "not-modified" {
  if (c === undefined) return "proceed";
  const failed = (why: string) => new DfsError("DFS_ERR_PRECONDITION", why);
  if (c.ifMatch !== undefined) {
    if (!etagListMatches(c.ifMatch, info.etag)) throw failed("If-Match does not name the current ETag");
  } else if (
    c.ifUnmodifiedSinceMs !== undefined &&
    seconds(info.modifiedMs) > seconds(c.ifUnmodifiedSinceMs)
  ) {
    throw failed("the key was modified since If-Unmodified-Since");
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagListMatches(c.ifNoneMatch, info.etag)) {
      if (kind === "read") return "not-modified";
      throw failed("If-None-Match names the current ETag");
    }
  } else if (c.ifModifiedSinceMs !== undefined && seconds(info.modifiedMs) <= seconds(c.ifModifiedSinceMs)) {
    if (kind === "read") return "not-modified";
    throw failed("the key was not modified since If-Modified-Since");
  }
  return "proceed";
}
