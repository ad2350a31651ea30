import type { FastifyInstance } from "fastify";
import { DfsError } from "../../errors.ts";
import { HASH_API_HOLDER } from "../../names/index.ts";
import type { GatewayContext } from "../context.ts";
import { readFanout, readManifest, readManifestObject } from "../download/reader.ts";
import { releaseFile } from "../file-release.ts";
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

/** Metadata of a file, and DELETE, which leaves a tombstone in place of its manifest. */
export async function manageRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get<{ Params: { hash: string } }>(
    "/v1/files/:hash/meta",
    // Which node holds which chunk, at which address: for operators (admin).
    { config: { access: "admin" } },
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
        ...(m.inline === undefined ? {} : { inline: true }),
      };
    },
  );

  /**
   * Retracts the hash API's hold on a file. When nothing else holds it (no key, no multipart part),
   * the file is deleted: a tombstone over its manifest on the manifest's owners (W of R), newer
   * than any manifest, which the nodes' repair spreads and never undoes; its chunks stay until the
   * nodes' garbage collection finds them unreferenced. When a key still holds it, it stays
   * readable by hash. 204 when the file existed, 404 when it did not (or was already deleted),
   * 503 without a quorum (retry: deleting twice is harmless).
   */
  app.delete<{ Params: { hash: string } }>(
    "/v1/files/:hash",
    { config: { access: "delete" } },
    async (request, reply) => {
      const hash = parseHash(request.params.hash);
      if (ctx.view.live().length === 0) throw new DfsError("DFS_ERR_UNAVAILABLE", "no live storage node");
      const current = await readManifestObject(ctx, hash);
      if (current.type === "tombstone") throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${hash}`);
      const deleted = await releaseFile(ctx, hash, HASH_API_HOLDER);
      request.log.info(
        { hash, deleted },
        deleted ? "file deleted" : "the hash API's hold retracted; keys hold the file",
      );
      return reply.code(204).send();
    },
  );
}
