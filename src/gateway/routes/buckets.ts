import type { FastifyInstance } from "fastify";
import { DfsError } from "../../errors.ts";
import type { BucketInfo, ObjectInfo } from "../../names/index.ts";
import { authorizeBucket } from "../bucket-access.ts";
import type { GatewayContext } from "../context.ts";

export function bucketJson(b: BucketInfo) {
  return { name: b.name, created: new Date(b.createdMs).toISOString() };
}

/** An object's description in /v1 answers (a listing entry, a PUT's answer). */
export function objectJson(o: ObjectInfo) {
  return {
    key: o.key,
    size: o.size,
    etag: o.etag,
    sha256: o.sha256,
    modified: new Date(o.modifiedMs).toISOString(),
    contentType: o.headers.contentType,
    userMeta: o.userMeta,
    ...(o.parts === undefined ? {} : { parts: o.parts }),
  };
}

function one(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw new DfsError("DFS_ERR_BAD_REQUEST", `${name} is given once`);
  return value;
}

type ListQuery = Record<
  "prefix" | "delimiter" | "cursor" | "startAfter" | "limit",
  string | string[] | undefined
>;

/** /v1/buckets: list, create, delete (when empty), and the JSON listing of a bucket's keys. */
export async function bucketRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get("/v1/buckets", { config: { access: "read" } }, async () => {
    const buckets = await ctx.names.listBuckets();
    return { buckets: buckets.map(bucketJson) };
  });

  app.put<{ Params: { bucket: string } }>(
    "/v1/buckets/:bucket",
    { config: { access: "write" } },
    async (request, reply) => {
      await authorizeBucket(request, request.params.bucket, "owner");
      const created = await ctx.names.createBucket(request.params.bucket);
      return reply.code(201).header("location", `/v1/buckets/${created.name}`).send(bucketJson(created));
    },
  );

  app.head<{ Params: { bucket: string } }>(
    "/v1/buckets/:bucket",
    { config: { access: "read" } },
    async (request, reply) => {
      await authorizeBucket(request, request.params.bucket, "read");
      await ctx.names.headBucket(request.params.bucket);
      return reply.code(200).send();
    },
  );

  app.delete<{ Params: { bucket: string } }>(
    "/v1/buckets/:bucket",
    { config: { access: "delete" } },
    async (request, reply) => {
      await authorizeBucket(request, request.params.bucket, "owner");
      await ctx.names.deleteBucket(request.params.bucket);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { bucket: string }; Querystring: Partial<ListQuery> }>(
    "/v1/buckets/:bucket/objects",
    { config: { access: "read" } },
    async (request) => {
      const { bucket } = request.params;
      await authorizeBucket(request, bucket, "read");
      const q = request.query;
      const limitText = one(q.limit, "limit");
      const limit = limitText === undefined ? 1000 : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new DfsError("DFS_ERR_BAD_REQUEST", "limit is an integer 1..1000");
      }
      const page = await ctx.names.list(bucket, {
        prefix: one(q.prefix, "prefix"),
        delimiter: one(q.delimiter, "delimiter"),
        cursor: one(q.cursor, "cursor"),
        startAfter: one(q.startAfter, "startAfter"),
        limit,
      });
      return {
        objects: page.objects.map(objectJson),
        commonPrefixes: page.commonPrefixes,
        truncated: page.truncated,
        ...(page.next === undefined ? {} : { next: page.next }),
      };
    },
  );
}
