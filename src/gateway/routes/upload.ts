import type { Readable } from "node:stream";
import multipart, { type MultipartFile } from "@fastify/multipart";
import type { FastifyInstance, FastifyReply } from "fastify";
import { DfsError, isDfsError } from "../../errors.ts";
import { freedAfterUse } from "../../memory.ts";
import { HASH_API_HOLDER } from "../../names/index.ts";
import type { GatewayContext } from "../context.ts";
import { filenameFromDisposition } from "../download/headers.ts";
import { holdBeforeCommit } from "../files.ts";
import { bodyWithin, guardBody, holdSlot, type TransferSlots } from "../guards.ts";
import { commit } from "../upload/commit.ts";
import { ingest } from "../upload/ingest.ts";
import { cleanContentType, cleanName } from "../upload/meta.ts";

function tooLarge(max: number): DfsError {
  return new DfsError("DFS_ERR_TOO_LARGE", `uploads are limited to ${max} bytes`);
}

/** Aborted when the client goes away before the answer is sent. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) abort.abort(new DfsError("DFS_ERR_CANCELLED", "the client went away"));
  });
  return abort.signal;
}

/**
 * The pieces of a stream, WITHOUT destroying it when the reader stops early: destroying a request
 * destroys its socket, and the client would never see why (413, 503).
 */
export function piecesOf(stream: Readable): AsyncIterable<Buffer> {
  return stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
}

/** A multipart file part whose size limit fails the upload the moment it is crossed. */
function multipartPieces(part: MultipartFile, max: number): AsyncIterable<Buffer> {
  part.file.once("limit", () => part.file.destroy(tooLarge(max)));
  const pieces = piecesOf(part.file);
  return (async function* () {
    yield* pieces;
    // Belt and braces: a truncated part must never pass for the whole file.
    if (part.file.truncated) throw tooLarge(max);
  })();
}

export function checkCapacity(ctx: GatewayContext): void {
  const live = ctx.placement.liveCount();
  if (live < ctx.config.writeQuorum) {
    throw new DfsError(
      "DFS_ERR_INSUFFICIENT_REPLICAS",
      `${live} live storage nodes, ${ctx.config.writeQuorum} needed for a write`,
    );
  }
}

async function store(
  ctx: GatewayContext,
  reply: FastifyReply,
  source: AsyncIterable<Buffer>,
  meta: { name: string; contentType: string },
): Promise<void> {
  const signal = clientGone(reply);
  const guarded = guardBody(source, ctx.config.bodyIdleTimeoutMs, () =>
    ctx.metrics.guarded.inc({ reason: "body_stalled" }),
  );
  const file = await ingest(ctx, guarded, signal);
  // The hash API's hold, before the manifest is read or written (src/gateway/file-release.ts).
  try {
    await holdBeforeCommit(ctx, file.hash, HASH_API_HOLDER);
  } catch (err) {
    file.holds.release();
    throw err;
  }
  const { created, body } = await commit(ctx, file, meta, signal);
  reply
    .code(created ? 201 : 200)
    .header("location", `/v1/files/${body.hash}`)
    .send(body);
}

/**
 * POST (multipart, `curl -F file=@x`) and PUT (raw body, `curl -T x`). Both stream: the body is
 * read as chunks are stored, never buffered whole. Registered in their own scope, where every body
 * reaches the handler as a stream.
 */
export async function uploadRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  slots: TransferSlots,
): Promise<void> {
  const max = ctx.config.maxUploadBytes;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: max, files: 1, fields: 16, fieldSize: 64 * 1024, parts: 32, headerPairs: 100 },
  });

  app.post("/v1/files", { config: { access: "write" } }, async (request, reply) => {
    checkCapacity(ctx);
    holdSlot(slots, reply, ctx.metrics);
    let part: MultipartFile | undefined;
    try {
      part = await bodyWithin(request.file(), ctx.config.bodyIdleTimeoutMs, () =>
        ctx.metrics.guarded.inc({ reason: "body_stalled" }),
      );
    } catch (err) {
      if (isDfsError(err, "DFS_ERR_REQUEST_TIMEOUT")) throw err;
      throw new DfsError(
        "DFS_ERR_BAD_REQUEST",
        `expected multipart/form-data with a file field: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (part === undefined) throw new DfsError("DFS_ERR_BAD_REQUEST", "the form has no file field");
    await store(ctx, reply, multipartPieces(part, max), {
      name: cleanName(part.filename),
      contentType: cleanContentType(part.mimetype),
    });
  });

  app.put<{ Querystring: { name?: string | string[] } }>(
    "/v1/files",
    { config: { access: "write" } },
    async (request, reply) => {
      const declared = Number(request.headers["content-length"]);
      if (Number.isFinite(declared) && declared > max) throw tooLarge(max);
      checkCapacity(ctx);
      holdSlot(slots, reply, ctx.metrics);
      const body = request.body as Readable | undefined;
      const query = request.query.name;
      const name =
        typeof query === "string" ? query : filenameFromDisposition(request.headers["content-disposition"]);
      // ingest copies each piece (chunker, file hash) before it asks for the next: free it then.
      await store(ctx, reply, freedAfterUse(piecesOf(body ?? request.raw)), {
        name: cleanName(name),
        contentType: cleanContentType(request.headers["content-type"]),
      });
    },
  );
}
