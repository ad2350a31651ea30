import type { FastifyInstance } from "fastify";
import { sha256Hex } from "../../crypto/index.ts";
import { DfsError, toDfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import { readFanout, readManifest, readManifestObject } from "../download/reader.ts";
import { parseHash } from "../hash.ts";
import { signSealed } from "../signing.ts";
import { retractReferences } from "../upload/holds.ts";
import { replicate } from "../upload/replicate.ts";

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
   * Deletes a file by writing a tombstone over its manifest on the manifest's owners (W of R, like
   * an upload): a newer stamp than any manifest's, so it wins wherever the two meet, and the nodes'
   * repair spreads it and never brings the file back. 204 when the file existed, 404 when it did not
   * (or was already deleted), 503 without a quorum (retry: deleting twice is harmless). Chunks stay
   * until the nodes' garbage collection finds them unreferenced.
   */
  app.delete<{ Params: { hash: string } }>(
    "/v1/files/:hash",
    { config: { access: "delete" } },
    async (request, reply) => {
      const hash = parseHash(request.params.hash);
      const id = ctx.cipher.manifestId(hash);
      if (ctx.view.live().length === 0) throw new DfsError("DFS_ERR_UNAVAILABLE", "no live storage node");
      const current = await readManifestObject(ctx, hash);
      if (current.type === "tombstone") throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${hash}`);
      const sealed = signSealed(
        ctx.identity,
        id,
        ctx.cipher.sealTombstone(hash, Math.max(Date.now(), current.stamp + 1)),
      );
      const controller = new AbortController();
      request.raw.once("close", () => {
        if (!reply.sent) controller.abort();
      });
      const stored = await replicate(ctx, id, sealed, {
        kind: "manifest",
        checksum: sha256Hex(sealed),
        signal: controller.signal,
      });
      request.log.info({ hash, copies: stored.length }, "file deleted");
      // After the tombstone, never before: a retraction without it could free a visible file's chunks.
      await retractReferences(
        ctx,
        current.manifest.chunks.map((c) => c.id),
        current.version,
      ).catch((err: unknown) => {
        request.log.warn(
          { hash, code: toDfsError(err).code },
          "a deleted file's chunk references could not be retracted: its chunks stay",
        );
      });
      return reply.code(204).send();
    },
  );
}
