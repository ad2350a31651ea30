import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { AccessKeyDirectory, Principal } from "../access/index.ts";
import { DfsError } from "../errors.ts";
import { type Access, type ApiKeys, bearerToken } from "./auth.ts";
import { authorizeHashApi } from "./bucket-access.ts";

/** `Authorization: Bearer ID:SECRET` with an access key id. */
const ACCESS_TOKEN = /^(DK[A-Z0-9]{18}):(\S+)$/;

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
): Promise<Principal | undefined> {
  const token = bearerToken(request);
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
