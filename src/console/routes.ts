import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type AccessKey, EVERY_BUCKET, KEY_ID } from "../access/index.ts";
import type { GatewayConfig } from "../config/index.ts";
import { DfsError } from "../errors.ts";
import { authorizeBucket, type GatewayContext } from "../gateway/index.ts";
import { presignGet } from "../s3/index.ts";
import { clusterReport } from "./cluster.ts";
import { cookieValue, SESSION_COOKIE, SESSION_TTL_MS, type SessionSeal, secretPrint } from "./session.ts";
import { securityHeaders } from "./static.ts";

/** Share links live 1 minute to 7 days (SigV4's limit). */
const SHARE_MAX_SEC = 7 * 24 * 3600;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const MAX_SECRET_CHARS = 256;

export interface ConsoleRouteOptions {
  readonly ctx: GatewayContext;
  readonly config: GatewayConfig;
  readonly seal: SessionSeal;
  readonly s3Address: () => string | undefined;
  readonly now: () => number;
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
/** Secrets compared as SHA-256 digests in constant time: neither length nor content leaks. */
const sameSecret = (held: string, given: string) => timingSafeEqual(digest(held), digest(given));

function cookieHeader(request: FastifyRequest, value: string, maxAgeSec: number): string {
  const secure = request.protocol === "https" ? "; Secure" : "";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secure}`;
}

function describeKey(key: AccessKey, csrf: string, expiresMs: number) {
  return {
    keyId: key.id,
    name: key.name,
    grants: key.grants,
    cluster: key.grants.some((g) => g.bucket === EVERY_BUCKET && g.read),
    csrf,
    expires: new Date(expiresMs).toISOString(),
  };
}

/**
 * The session of a request's cookie, checked against the access key directory (a deleted key, or
 * one made again under the same id, ends it). Writes must carry the session's CSRF token.
 */
export function sessionAuth(o: ConsoleRouteOptions) {
  return async (request: FastifyRequest): Promise<AccessKey | undefined> => {
    const value = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const session = value === undefined ? undefined : o.seal.open(value, o.now());
    if (value === undefined || session === undefined) return undefined;
    const token = request.headers["x-csrf-token"];
    if (
      !SAFE_METHODS.has(request.method) &&
      !o.seal.csrfMatches(value, typeof token === "string" ? token : undefined)
    )
      throw new DfsError(
        "DFS_ERR_FORBIDDEN",
        "a console request that changes something needs its x-csrf-token",
      );
    const key = await o.ctx.access.lookup(session.keyId);
    if (key === undefined || secretPrint(key.secret) !== session.secretPrint) return undefined;
    return key;
  };
}

function signedInKey(request: FastifyRequest): AccessKey {
  const p = request.principal;
  if (p?.kind !== "access-key")
    throw new DfsError("DFS_ERR_UNAUTHORIZED", "sign in to the console with an access key first");
  return p.key;
}

/** The console's JSON API under /ui/api/: sign in and out, share links, the cluster report. */
export async function consoleApiRoutes(app: FastifyInstance, o: ConsoleRouteOptions): Promise<void> {
  const auth = sessionAuth(o);
  const report = clusterReport(o.ctx, o.config);
  app.addHook("onSend", async (request, reply: FastifyReply) => {
    if (request.url.startsWith("/ui/api/")) securityHeaders(reply).header("cache-control", "no-store");
  });

  app.post<{ Body: { id?: unknown; secret?: unknown } }>(
    "/ui/api/session",
    { config: { access: "public" } },
    async (request, reply) => {
      const { id, secret } = request.body ?? {};
      if (typeof id !== "string" || typeof secret !== "string" || secret.length > MAX_SECRET_CHARS)
        throw new DfsError("DFS_ERR_BAD_REQUEST", 'sign in with {"id": "DK...", "secret": "..."}');
      const key = KEY_ID.test(id) ? await o.ctx.access.lookup(id) : undefined;
      // Compared even without a key, so a miss and a wrong secret take the same work.
      const matches = sameSecret(key?.secret ?? "", secret);
      if (key === undefined || !matches)
        throw new DfsError("DFS_ERR_FORBIDDEN", "the access key id or secret is not accepted");
      const expiresMs = o.now() + SESSION_TTL_MS;
      const value = o.seal.seal({ keyId: key.id, secretPrint: secretPrint(key.secret), expiresMs });
      request.log.info({ accessKey: key.id }, "console: signed in");
      return reply
        .code(201)
        .header("set-cookie", cookieHeader(request, value, SESSION_TTL_MS / 1000))
        .send(describeKey(key, o.seal.csrfToken(value), expiresMs));
    },
  );

  app.get("/ui/api/session", { config: { access: "public" } }, async (request) => {
    const value = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const key = await auth(request);
    const session = value === undefined ? undefined : o.seal.open(value, o.now());
    if (key === undefined || value === undefined || session === undefined)
      throw new DfsError("DFS_ERR_UNAUTHORIZED", "not signed in");
    return describeKey(key, o.seal.csrfToken(value), session.expiresMs);
  });

  app.delete("/ui/api/session", { config: { access: "public" } }, async (request, reply) => {
    await auth(request); // a sign-out from another site (no CSRF token) is refused
    return reply
      .code(204)
      .header("set-cookie", cookieHeader(request, "", 0))
      .send();
  });

  app.post<{ Body: { bucket?: unknown; key?: unknown; expiresSec?: unknown } }>(
    "/ui/api/share",
    { config: { access: "read" } },
    async (request) => {
      const key = signedInKey(request);
      const { bucket, key: name, expiresSec } = request.body ?? {};
      if (typeof bucket !== "string" || typeof name !== "string" || name === "")
        throw new DfsError("DFS_ERR_BAD_REQUEST", 'share {"bucket", "key", "expiresSec"}');
      const seconds = expiresSec === undefined ? 3600 : Number(expiresSec);
      if (!Number.isInteger(seconds) || seconds < 60 || seconds > SHARE_MAX_SEC)
        throw new DfsError("DFS_ERR_BAD_REQUEST", `a share link lives 60..${SHARE_MAX_SEC} seconds`);
      authorizeBucket(request, bucket, "read");
      await o.ctx.names.headObject(bucket, name);
      const s3 = o.s3Address();
      if (s3 === undefined)
        throw new DfsError("DFS_ERR_UNAVAILABLE", "share links need the S3 listener (s3.listen)");
      // The link names the host the console was reached by, on the S3 listener's port.
      const port = s3.slice(s3.lastIndexOf(":") + 1);
      const nowMs = o.now();
      const url = presignGet({
        endpoint: `${request.protocol}://${request.hostname}:${port}`,
        bucket,
        key: name,
        accessKeyId: key.id,
        secret: key.secret,
        region: o.config.s3.region,
        expiresSec: seconds,
        nowMs,
      });
      return { url, expires: new Date(nowMs + seconds * 1000).toISOString() };
    },
  );

  app.get("/ui/api/cluster", { config: { access: "read" } }, async (request) => {
    const p = request.principal;
    if (p === undefined) throw new DfsError("DFS_ERR_UNAUTHORIZED", "sign in to the console first");
    authorizeBucket(request, EVERY_BUCKET, "read");
    return report();
  });
}
