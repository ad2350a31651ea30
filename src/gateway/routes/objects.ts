import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DfsError } from "../../errors.ts";
import { freedAfterUse } from "../../memory.ts";
import { type Conditions, checkConditions, type ObjectHeaders, type ObjectInfo } from "../../names/index.ts";
import { authorizeBucket } from "../bucket-access.ts";
import type { GatewayContext } from "../context.ts";
import { planRange } from "../download/range.ts";
import { downloadBody } from "../download/send.ts";
import { guardBody, holdSlot, type TransferSlots } from "../guards.ts";
import { cleanContentType } from "../upload/meta.ts";
import { objectJson } from "./buckets.ts";
import { checkCapacity, clientGone, piecesOf } from "./upload.ts";

type ObjectRequest = FastifyRequest<{
  Params: { bucket: string; "*": string };
  Querystring: { copyFrom?: string };
}>;

const META_PREFIX = "x-meta-";

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

function httpDate(request: FastifyRequest, name: string): number | undefined {
  const v = header(request, name);
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The standard headers and x-meta-* of a PUT, kept with the key. */
function describedBy(request: FastifyRequest): { headers: ObjectHeaders; userMeta: Record<string, string> } {
  const headers: ObjectHeaders = { contentType: cleanContentType(header(request, "content-type")) };
  const optional = {
    contentDisposition: "content-disposition",
    contentEncoding: "content-encoding",
    contentLanguage: "content-language",
    cacheControl: "cache-control",
    expires: "expires",
  } as const;
  for (const [field, name] of Object.entries(optional)) {
    const v = header(request, name);
    if (v !== undefined) headers[field as keyof typeof optional] = v;
  }
  const userMeta: Record<string, string> = {};
  for (const [name, v] of Object.entries(request.headers)) {
    if (name.startsWith(META_PREFIX) && v !== undefined) {
      userMeta[name.slice(META_PREFIX.length)] = Array.isArray(v) ? v.join(",") : v;
    }
  }
  return { headers, userMeta };
}

function conditionsOf(request: FastifyRequest): Conditions {
  return {
    ifMatch: header(request, "if-match"),
    ifNoneMatch: header(request, "if-none-match"),
    ifModifiedSinceMs: httpDate(request, "if-modified-since"),
    ifUnmodifiedSinceMs: httpDate(request, "if-unmodified-since"),
  };
}

/** Response headers of a key's current version. */
function describe(reply: FastifyReply, o: ObjectInfo): void {
  reply
    .header("etag", `"${o.etag}"`)
    .header("last-modified", new Date(o.modifiedMs).toUTCString())
    .header("accept-ranges", "bytes")
    .header("content-type", o.headers.contentType)
    .header("x-dfs-sha256", o.sha256)
    .header("cache-control", o.headers.cacheControl ?? "no-cache")
    // The content type is the uploader's word: never let a browser run it as our page.
    .header("x-content-type-options", "nosniff")
    .header("content-security-policy", "default-src 'none'; sandbox");
  if (o.headers.contentDisposition !== undefined)
    reply.header("content-disposition", o.headers.contentDisposition);
  if (o.headers.contentEncoding !== undefined) reply.header("content-encoding", o.headers.contentEncoding);
  if (o.headers.contentLanguage !== undefined) reply.header("content-language", o.headers.contentLanguage);
  if (o.headers.expires !== undefined) reply.header("expires", o.headers.expires);
  for (const [k, v] of Object.entries(o.userMeta)) reply.header(`${META_PREFIX}${k}`, v);
}

/** What a GET or HEAD sends: 304, the whole, or one range (416 when unsatisfiable). */
function plan(request: FastifyRequest, reply: FastifyReply, o: ObjectInfo) {
  describe(reply, o);
  if (checkConditions(o, conditionsOf(request), "read") === "not-modified")
    return { status: 304 as const, start: 0, end: -1 };
  const ifRange = header(request, "if-range");
  const p = planRange(
    request.headers.range,
    o.size,
    ifRange === undefined || ifRange.trim() === `"${o.etag}"`,
    "object",
  );
  if (p.contentRange !== undefined) reply.header("content-range", p.contentRange);
  return p;
}

/** "bucket/key" (the key URL-encoded or not) of a copy source. */
function copySource(value: string): { bucket: string; key: string } {
  const at = value.indexOf("/");
  if (at <= 0 || at === value.length - 1) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", "copyFrom is bucket/key");
  }
  return { bucket: value.slice(0, at), key: value.slice(at + 1) };
}

/**
 * PUT (a raw body, streamed, or a copy with ?copyFrom=bucket/key), GET (Range, conditional
 * requests), HEAD and DELETE of /v1/buckets/{bucket}/objects/{key}; the key may hold slashes.
 * In their own scope, where every body reaches the handler as a stream.
 */
export async function objectRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  slots: TransferSlots,
): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  const path = "/v1/buckets/:bucket/objects/*";

  app.put(path, { config: { access: "write" } }, async (request: ObjectRequest, reply) => {
    const { bucket, "*": key } = request.params;
    await authorizeBucket(request, bucket, "write");
    const copyFrom = request.query.copyFrom;
    if (copyFrom !== undefined) {
      const from = copySource(copyFrom);
      await authorizeBucket(request, from.bucket, "read");
      const replace =
        header(request, "x-metadata-directive") === "replace" ? describedBy(request) : undefined;
      const info = await ctx.names.copyObject(
        { ...from, conditions: conditionsOf(request) },
        { bucket, key },
        replace,
      );
      return reply.code(201).header("etag", `"${info.etag}"`).send(objectJson(info));
    }
    const declared = Number(request.headers["content-length"]);
    if (Number.isFinite(declared) && declared > ctx.config.maxUploadBytes) {
      throw new DfsError("DFS_ERR_TOO_LARGE", `uploads are limited to ${ctx.config.maxUploadBytes} bytes`);
    }
    checkCapacity(ctx);
    holdSlot(slots, reply, ctx.metrics);
    const md5 = header(request, "content-md5");
    const expectMd5 = md5 === undefined ? undefined : Buffer.from(md5, "base64");
    if (expectMd5 !== undefined && expectMd5.length !== 16) {
      throw new DfsError("DFS_ERR_BAD_DIGEST", "Content-MD5 is the base64 of 16 bytes");
    }
    const body = (request.body as Readable | undefined) ?? request.raw;
    const guarded = guardBody(freedAfterUse(piecesOf(body)), ctx.config.bodyIdleTimeoutMs, () =>
      ctx.metrics.guarded.inc({ reason: "body_stalled" }),
    );
    const { info } = await ctx.names.putObject(bucket, key, {
      ...describedBy(request),
      body: guarded,
      signal: clientGone(reply),
      expectMd5,
    });
    return reply.code(201).header("etag", `"${info.etag}"`).send(objectJson(info));
  });

  app.get(path, { config: { access: "read" } }, async (request: ObjectRequest, reply) => {
    const { bucket, "*": key } = request.params;
    await authorizeBucket(request, bucket, "read");
    const info = await ctx.names.headObject(bucket, key);
    const p = plan(request, reply, info);
    if (p.status === 304) return reply.code(304).send();
    holdSlot(slots, reply, ctx.metrics);
    const abort = new AbortController();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) abort.abort(new DfsError("DFS_ERR_CANCELLED", "the client went away"));
    });
    const pieces = (await ctx.names.readObject(info, p, abort.signal))[Symbol.asyncIterator]();
    let first: IteratorResult<Buffer>;
    try {
      first = await pieces.next();
    } catch (err) {
      abort.abort(err); // the chunks fetched ahead are of no use now
      throw err;
    }
    const body = downloadBody(ctx, request, reply, first, { [Symbol.asyncIterator]: () => pieces }, abort);
    return reply
      .code(p.status)
      .header("content-length", String(p.end - p.start + 1))
      .send(body);
  });

  app.head(path, { config: { access: "read" } }, async (request: ObjectRequest, reply) => {
    const { bucket, "*": key } = request.params;
    await authorizeBucket(request, bucket, "read");
    const info = await ctx.names.headObject(bucket, key);
    const p = plan(request, reply, info);
    if (p.status !== 304) reply.header("content-length", String(p.end - p.start + 1));
    return reply.code(p.status).send();
  });

  app.delete(path, { config: { access: "delete" } }, async (request: ObjectRequest, reply) => {
    const { bucket, "*": key } = request.params;
    await authorizeBucket(request, bucket, "write");
    const existed = await ctx.names.deleteObject(bucket, key);
    if (!existed) throw new DfsError("DFS_ERR_NO_SUCH_KEY", `no key ${key} in bucket ${bucket}`);
    return reply.code(204).send();
  });
}
