import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { DfsError } from "../../errors.ts";
import { freedAfterUse } from "../../memory.ts";
import { MAX_PART_NUMBER, type PartInfo } from "../../names/index.ts";
import { authorizeBucket } from "../bucket-access.ts";
import type { GatewayContext } from "../context.ts";
import { guardBody, holdSlot, type TransferSlots } from "../guards.ts";
import { cleanContentType } from "../upload/meta.ts";
import { objectJson } from "./buckets.ts";
import { checkCapacity, clientGone, piecesOf } from "./upload.ts";

type UploadParams = { bucket: string; uploadId: string };
type KeyQuery = { key?: string | string[] };

function keyOf(request: FastifyRequest<{ Querystring: KeyQuery }>): string {
  const key = request.query.key;
  if (typeof key !== "string" || key === "")
    throw new DfsError("DFS_ERR_BAD_REQUEST", "the upload's key is given once as ?key=");
  return key;
}

function partNumberOf(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER)
    throw new DfsError("DFS_ERR_BAD_REQUEST", `a part number is an integer 1..${MAX_PART_NUMBER}`);
  return n;
}

const partJson = (p: PartInfo) => ({
  partNumber: p.partNumber,
  size: p.size,
  etag: p.etag,
  modified: new Date(p.modifiedMs).toISOString(),
});

/**
 * Multipart uploads of a key over /v1 (the naming service's, as S3's): start one, send parts in any
 * order and again, list the parts received (to resume), complete or abort. Parts are raw bodies;
 * the rest is JSON. An access key needs `write` in the bucket.
 */
export async function multipartRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  slots: TransferSlots,
): Promise<void> {
  app.post<{ Params: { bucket: string }; Body: { key?: unknown; contentType?: unknown } }>(
    "/v1/buckets/:bucket/uploads",
    { config: { access: "write" } },
    async (request, reply) => {
      const { bucket } = request.params;
      authorizeBucket(request, bucket, "write");
      const { key, contentType } = request.body ?? {};
      if (typeof key !== "string" || key === "")
        throw new DfsError("DFS_ERR_BAD_REQUEST", 'the body names the upload\'s key: {"key": ...}');
      const type = typeof contentType === "string" ? contentType : undefined;
      const upload = await ctx.names.createUpload(bucket, key, {
        headers: { contentType: cleanContentType(type) },
        userMeta: {},
      });
      return reply.code(201).send({
        uploadId: upload.uploadId,
        key: upload.key,
        initiated: new Date(upload.initiatedMs).toISOString(),
      });
    },
  );

  app.get<{ Params: UploadParams; Querystring: KeyQuery }>(
    "/v1/buckets/:bucket/uploads/:uploadId",
    { config: { access: "write" } },
    async (request) => {
      const { bucket, uploadId } = request.params;
      authorizeBucket(request, bucket, "write");
      const key = keyOf(request);
      const parts: PartInfo[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await ctx.names.listParts(bucket, key, uploadId, { after, limit: 1000 });
        parts.push(...page.parts);
        if (!page.truncated || page.next === undefined) break;
        after = page.next;
      }
      return { uploadId, key, parts: parts.map(partJson) };
    },
  );

  app.post<{ Params: UploadParams; Querystring: KeyQuery; Body: { parts?: unknown } }>(
    "/v1/buckets/:bucket/uploads/:uploadId/complete",
    { config: { access: "write" } },
    async (request, reply) => {
      const { bucket, uploadId } = request.params;
      authorizeBucket(request, bucket, "write");
      const parts = request.body?.parts;
      const valid =
        Array.isArray(parts) &&
        parts.every(
          (p: { partNumber?: unknown; etag?: unknown }) =>
            typeof p === "object" &&
            p !== null &&
            Number.isInteger(p.partNumber) &&
            typeof p.etag === "string",
        );
      if (!valid)
        throw new DfsError(
          "DFS_ERR_BAD_REQUEST",
          'the body lists the parts: {"parts": [{"partNumber", "etag"}]}',
        );
      const info = await ctx.names.completeUpload(
        bucket,
        keyOf(request),
        uploadId,
        parts as { partNumber: number; etag: string }[],
      );
      return reply.code(201).header("etag", `"${info.etag}"`).send(objectJson(info));
    },
  );

  app.delete<{ Params: UploadParams; Querystring: KeyQuery }>(
    "/v1/buckets/:bucket/uploads/:uploadId",
    { config: { access: "write" } },
    async (request, reply) => {
      const { bucket, uploadId } = request.params;
      authorizeBucket(request, bucket, "write");
      await ctx.names.abortUpload(bucket, keyOf(request), uploadId);
      return reply.code(204).send();
    },
  );

  // Parts in a scope of their own, where every body reaches the handler as a stream.
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    raw.put<{ Params: UploadParams & { partNumber: string }; Querystring: KeyQuery }>(
      "/v1/buckets/:bucket/uploads/:uploadId/parts/:partNumber",
      { config: { access: "write" } },
      async (request, reply) => {
        const { bucket, uploadId } = request.params;
        authorizeBucket(request, bucket, "write");
        const key = keyOf(request);
        const partNumber = partNumberOf(request.params.partNumber);
        const declared = Number(request.headers["content-length"]);
        if (Number.isFinite(declared) && declared > ctx.config.maxUploadBytes)
          throw new DfsError(
            "DFS_ERR_TOO_LARGE",
            `uploads are limited to ${ctx.config.maxUploadBytes} bytes`,
          );
        checkCapacity(ctx);
        holdSlot(slots, reply, ctx.metrics);
        const body = (request.body as Readable | undefined) ?? request.raw;
        const guarded = guardBody(freedAfterUse(piecesOf(body)), ctx.config.bodyIdleTimeoutMs, () =>
          ctx.metrics.guarded.inc({ reason: "body_stalled" }),
        );
        const { part } = await ctx.names.putPart(bucket, key, uploadId, partNumber, {
          body: guarded,
          signal: clientGone(reply),
        });
        return reply.code(200).header("etag", `"${part.etag}"`).send(partJson(part));
      },
    );
  });
}
