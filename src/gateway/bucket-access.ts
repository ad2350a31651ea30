import type { FastifyRequest } from "fastify";
import { type BucketAction, canAccess, canSee, EVERY_BUCKET, type Principal } from "../access/index.ts";
import { DfsError } from "../errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * Who is asking, set by the onRequest hook (principal.ts): a configured API key, everyone on a
     * gateway without keys, or an access key. Absent on public routes and anonymous open reads.
     */
    principal?: Principal;
  }
}

/**
 * Throws unless the request's principal may do `action` in `bucket`: DFS_ERR_UNAUTHORIZED without
 * one, DFS_ERR_FORBIDDEN for an access key without that grant (grants.ts has the rules). A
 * configured principal passes: its route permission, checked by the hook, is cluster-wide.
 */
export function authorizeBucket(request: FastifyRequest, bucket: string, action: BucketAction): void {
  const p = request.principal;
  if (p === undefined)
    throw new DfsError("DFS_ERR_UNAUTHORIZED", `this request needs a key with ${action} access to ${bucket}`);
  if (!canAccess(p, bucket, action)) {
    const who = p.kind === "access-key" ? `access key ${p.key.id}` : "this key";
    throw new DfsError("DFS_ERR_FORBIDDEN", `${who} has no ${action} grant on bucket ${bucket}`);
  }
}

/** Whether `bucket` shows in this request's bucket lists: a key sees the buckets it holds a grant on. */
export function seesBucket(request: FastifyRequest, bucket: string): boolean {
  const p = request.principal;
  return p !== undefined && canSee(p, bucket);
}

/** Routes of the hash API: an access key needs a grant on bucket "*" there. */
const HASH_API = "/v1/files";

/**
 * The hash API's check for access keys (files are not in buckets): read routes need read on "*",
 * uploads and deletes need write on "*". Other principals were checked by their route permission.
 */
export function authorizeHashApi(request: FastifyRequest, access: "read" | "write" | "delete"): void {
  const url = request.routeOptions.url;
  if (request.principal?.kind !== "access-key" || url === undefined) return;
  if (url !== HASH_API && !url.startsWith(`${HASH_API}/`)) return;
  authorizeBucket(request, EVERY_BUCKET, access === "read" ? "read" : "write");
}
