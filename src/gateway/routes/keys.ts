import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AccessKey, BucketGrant } from "../../access/index.ts";
import { DfsError } from "../../errors.ts";
import { authorizeBucket } from "../bucket-access.ts";
import type { GatewayContext } from "../context.ts";

/** A key as the API shows it after its creation: never the secret. */
function shown(key: AccessKey) {
  return { id: key.id, name: key.name, grants: key.grants, createdMs: key.createdMs };
}

const noKey = (id: string) => new DfsError("DFS_ERR_NOT_FOUND", `no access key ${id}`);

/**
 * Granting within a bucket: an admin key (or everyone on a gateway without keys), or an access
 * key with the owner grant on that bucket. The route itself needs write, so access keys reach here.
 */
function authorizeGrant(request: FastifyRequest, bucket: string): void {
  const p = request.principal;
  if (p?.kind === "configured" && !p.admin)
    throw new DfsError("DFS_ERR_FORBIDDEN", `the API key "${p.name ?? ""}" has no admin permission`);
  authorizeBucket(request, bucket, "owner");
}

const grantBody = {
  type: "object",
  required: ["bucket"],
  additionalProperties: false,
  properties: {
    bucket: { type: "string", minLength: 1, maxLength: 63 },
    read: { type: "boolean" },
    write: { type: "boolean" },
    owner: { type: "boolean" },
  },
} as const;

/** Access keys kept in the cluster: list, create (the one answer with the secret), get, delete, grant. */
export async function keyRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get("/v1/keys", { config: { access: "admin" } }, async () => ({
    keys: (await ctx.access.list()).map(shown),
  }));

  app.post<{ Body: { name: string } }>(
    "/v1/keys",
    {
      config: { access: "admin" },
      schema: {
        body: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: { name: { type: "string" } },
        },
      },
    },
    async (request, reply) => {
      const key = await ctx.access.create(request.body.name);
      request.log.info({ accessKey: key.id, name: key.name }, "access key created");
      reply.code(201);
      return { ...shown(key), secret: key.secret };
    },
  );

  app.get<{ Params: { id: string } }>("/v1/keys/:id", { config: { access: "admin" } }, async (request) => {
    const key = await ctx.access.lookup(request.params.id);
    if (key === undefined) throw noKey(request.params.id);
    return shown(key);
  });

  app.delete<{ Params: { id: string } }>(
    "/v1/keys/:id",
    { config: { access: "admin" } },
    async (request, reply) => {
      if (!(await ctx.access.remove(request.params.id))) throw noKey(request.params.id);
      request.log.info({ accessKey: request.params.id }, "access key deleted");
      reply.code(204);
    },
  );

  app.put<{ Params: { id: string }; Body: Partial<BucketGrant> & { bucket: string } }>(
    "/v1/keys/:id/grants",
    { config: { access: "write" }, schema: { body: grantBody } },
    async (request) => {
      const b = request.body;
      authorizeGrant(request, b.bucket);
      const grant = {
        bucket: b.bucket,
        read: b.read ?? false,
        write: b.write ?? false,
        owner: b.owner ?? false,
      };
      const key = await ctx.access.allow(request.params.id, grant);
      request.log.info({ accessKey: key.id, grant }, "access key granted");
      return shown(key);
    },
  );
}
