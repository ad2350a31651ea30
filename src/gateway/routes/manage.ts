import type { FastifyInstance } from "fastify";
import { DfsError, toDfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import { readFanout, readManifest } from "../download/reader.ts";
import { parseHash } from "../hash.ts";

/**
 * Which of the nodes that could hold each chunk (the first few in placement order) do: one batched
 * `has` per node, not one per chunk. A node that cannot be asked is left out.
 */
async function holders(ctx: GatewayContext, ids: readonly string[]): Promise<Map<string, string[]>> {
  const candidates = new Map<string, string[]>(); // node -> ids it may hold
  for (const id of new Set(ids)) {
    for (const addr of ctx.placement.order(id).slice(0, readFanout(ctx))) {
      const list = candidates.get(addr) ?? [];
      list.push(id);
      candidates.set(addr, list);
    }
  }
  const held = new Map<string, string[]>(ids.map((id) => [id, []]));
  await Promise.all(
    [...candidates].map(async ([addr, list]) => {
      try {
        const answers = await ctx.nodes.has(addr, list, "chunk");
        ctx.metrics.nodeOp("has", "chunk", true);
        list.forEach((id, i) => {
          if (answers[i]) held.get(id)!.push(addr);
        });
      } catch {
        ctx.metrics.nodeOp("has", "chunk", false);
      }
    }),
  );
  for (const addrs of held.values()) addrs.sort();
  return held;
}

/** Metadata of a file and DELETE, which removes the manifest from every live node that holds it. */
export async function manageRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get<{ Params: { hash: string } }>(
    "/v1/files/:hash/meta",
    { config: { access: "read" } },
    async (request) => {
      const hash = parseHash(request.params.hash);
      const m = await readManifest(ctx, hash);
      const held = await holders(
        ctx,
        m.chunks.map((c) => c.id),
      );
      return {
        hash: m.hash,
        size: m.size,
        name: m.name,
        contentType: m.contentType,
        chunkBytes: m.chunkBytes,
        createdAt: new Date(m.createdAt).toISOString(),
        chunks: m.chunks.map((c) => ({ id: c.id, size: c.size, nodes: held.get(c.id) ?? [] })),
      };
    },
  );

  /**
   * Deletes the manifest on every live node (not only the owners: a copy written during a fallback
   * or left by a move must not bring the file back). 204 when some node deleted it, 404 when every
   * node answered that it had none, 503 when a node could not be asked (the delete is idempotent:
   * retry). Chunks stay until garbage collection.
   */
  app.delete<{ Params: { hash: string } }>(
    "/v1/files/:hash",
    { config: { access: "write" } },
    async (request, reply) => {
      const hash = parseHash(request.params.hash);
      const id = ctx.cipher.manifestId(hash);
      const live = ctx.view.live();
      if (live.length === 0) throw new DfsError("DFS_ERR_UNAVAILABLE", "no live storage node");
      const results = await Promise.allSettled(live.map((n) => ctx.nodes.delete(n.addr, id, "manifest")));
      let deleted = 0;
      let failure: DfsError | undefined;
      for (const r of results) {
        ctx.metrics.nodeOp("delete", "manifest", r.status === "fulfilled");
        if (r.status === "fulfilled") deleted += r.value ? 1 : 0;
        else failure ??= toDfsError(r.reason);
      }
      if (failure) {
        throw new DfsError("DFS_ERR_UNAVAILABLE", "not every node could delete the file; retry", {
          cause: failure,
        });
      }
      if (deleted === 0) throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${hash}`);
      request.log.info({ hash, copies: deleted }, "file deleted");
      return reply.code(204).send();
    },
  );
}
