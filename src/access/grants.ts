import { DfsError } from "../errors.ts";
import type { BucketAction, BucketGrant, Principal } from "./types.ts";

/** Grants on this bucket name apply to every bucket, present and future. */
export const EVERY_BUCKET = "*";

/** An S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit), or "*". */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const isBucketName = (name: string): boolean => BUCKET.test(name);

/** DFS_ERR_BAD_REQUEST unless `bucket` is a bucket name or "*". */
export function checkGrantBucket(bucket: string): void {
  if (bucket !== EVERY_BUCKET && !isBucketName(bucket))
    throw new DfsError(
      "DFS_ERR_BAD_REQUEST",
      `a grant is on a bucket name (3-63 of a-z 0-9 . -) or "*", not ${JSON.stringify(bucket.slice(0, 80))}`,
    );
}

const applies = (g: BucketGrant, bucket: string) => g.bucket === bucket || g.bucket === EVERY_BUCKET;

/**
 * Whether `principal` may do `action` in `bucket`. read = get, head, list; write = put, delete,
 * copy, multipart; owner = create and delete the bucket, and grant within it. Each flag stands
 * alone (owner does not imply read). A configured principal (an API key of the gateway's config,
 * or everyone on a gateway without keys) may do everything its route permission let through.
 */
export function canAccess(principal: Principal, bucket: string, action: BucketAction): boolean {
  if (principal.kind === "configured") return true;
  return principal.key.grants.some((g) => applies(g, bucket) && g[action]);
}

/** Whether `bucket` shows in `principal`'s bucket lists: it holds a grant on it (or on "*"). */
export function canSee(principal: Principal, bucket: string): boolean {
  if (principal.kind === "configured") return true;
  return principal.key.grants.some((g) => applies(g, bucket) && (g.read || g.write || g.owner));
}

/** `grants` with `grant` in place of any earlier one on its bucket; a grant of nothing removes it. */
export function withGrant(grants: readonly BucketGrant[], grant: BucketGrant): BucketGrant[] {
  const rest = grants.filter((g) => g.bucket !== grant.bucket);
  if (!grant.read && !grant.write && !grant.owner) return rest;
  const { bucket, read, write, owner } = grant;
  return [...rest, { bucket, read, write, owner }].sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
}
