import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { AccessKey, AccessKeyDirectory, Principal } from "../access/index.ts";
import { DfsError } from "../errors.ts";
import { type Access, type ApiKeys, bearerToken } from "./auth.ts";
import { authorizeHashApi } from "./bucket-access.ts";

/** `Authorization: Bearer ID:SECRET` with an access key id. */
const ACCESS_TOKEN = /^(DK[A-Z0-9]{18}):(\S+)$/;

/**
 * Who a request is by something other than its Authorization header: the web console's session
 * cookie (src/console/). Undefined when the request carries none (or one that does not open); it
 * throws for one that is not acceptable (a write without its CSRF token).
 */
export type SessionAuth = (request: FastifyRequest) => Promise<AccessKey | undefined>;

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Secrets compared as SHA-256 digests in constant time: neither length nor content leaks. */
function sameSecret(held: string, given: string): boolean {
  return timingSafeEqual(digest(held), digest(given));
}

/**
 * Who a request is, for the onRequest hook. A bearer token that is a configured API key is that
 * key (the keys file wins); one shaped `ID:SECRET` is looked up in the access key directory
 * (cached, else read at quorum: DFS_ERR_UNAVAILABLE when the cluster cannot answer). An access
 * key never has admin permission, and on the hash API needs a grant on bucket "*".
 */
export async function authenticate(
  request: FastifyRequest,
  access: Access,
  keys: ApiKeys,
  directory: AccessKeyDirectory,
  sessions?: SessionAuth,
): Promise<Principal | undefined> {
  const token = bearerToken(request);
  if (request.headers.authorization === undefined && access !== "public" && sessions !== undefined) {
    const signedIn = await sessions(request);
    if (signedIn !== undefined) return admitted(request, signedIn, access);
  }
  const m = token === undefined ? null : ACCESS_TOKEN.exec(token);
  if (!keys.keyed || access === "public" || m === null || keys.holds(token!)) {
    return keys.principal(request, access);
  }
  const [, id, secret] = m;
  const key = await directory.lookup(id!);
  // Compared even without a key, so a miss and a wrong secret take the same work.
  const matches = sameSecret(key?.secret ?? "", secret!);
  if (key === undefined || !matches)
    throw new DfsError("DFS_ERR_FORBIDDEN", "the access key is not accepted");
  return admitted(request, key, access);
}

/** An access key's principal on a route: never admin; on the hash API, a grant on "*" is needed. */
function admitted(request: FastifyRequest, key: AccessKey, access: Exclude<Access, "public">): Principal {
  if (access === "admin")
    throw new DfsError(
      "DFS_ERR_FORBIDDEN",
      `access key ${key.id} has no admin permission (admin routes need a configured API key)`,
    );
  const principal: Principal = { kind: "access-key", key };
  request.principal = principal;
  authorizeHashApi(request, access);
  return principal;
}
