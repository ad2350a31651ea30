import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Manifest } from "../../crypto/index.ts";
import { DfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import { contentDisposition, etagOf, ifRangeAllows, matchesIfNoneMatch } from "../download/headers.ts";
import { planRange, type SendPlan } from "../download/range.ts";
import { readManifest } from "../download/reader.ts";
import { downloadBody } from "../download/send.ts";
import { inlinePiece, plaintext } from "../download/stream.ts";
import { holdSlot, type ReadAheadBudget, type TransferSlots } from "../guards.ts";
import { parseHash } from "../hash.ts";

type FileRequest = FastifyRequest<{ Params: { hash: string } }>;

/** Decides what to send: the whole file, one range, or nothing new (304); throws 416. */
function plan(request: FileRequest, reply: FastifyReply, m: Manifest): SendPlan {
  reply
    .header("etag", etagOf(m.hash))
    .header("accept-ranges", "bytes")
    .header("content-type", m.contentType)
    .header("content-disposition", contentDisposition(m.name))
    .header("last-modified", new Date(m.createdAt).toUTCString())
    .header("cache-control", "no-cache")
    // The content type is the uploader's word: never let a browser run it as our page.
    .header("x-content-type-options", "nosniff")
    .header("content-security-policy", "default-src 'none'; sandbox");
  if (matchesIfNoneMatch(request.headers["if-none-match"], m.hash)) return { status: 304, start: 0, end: -1 };
  const p = planRange(
    request.headers.range,
    m.size,
    ifRangeAllows(request.headers["if-range"] as string | undefined, m.hash),
    "file",
  );
  if (p.contentRange !== undefined) reply.header("content-range", p.contentRange);
  return p;
}

/** Aborted when the response ends early (client gone) so chunk fetches stop. */
function downloadSignal(reply: FastifyReply): AbortController {
  const abort = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) abort.abort(new DfsError("DFS_ERR_CANCELLED", "the client went away"));
  });
  return abort;
}

/**
 * GET and HEAD of a file. The first chunk is read before the status line goes out, so a file whose
 * data is unreachable gets a proper 503; a failure after that aborts the response (never a
 * complete response with wrong or missing bytes).
 */
export async function downloadRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  slots: TransferSlots,
  readAhead: ReadAheadBudget,
): Promise<void> {
  app.get<{ Params: { hash: string } }>(
    "/v1/files/:hash",
    { config: { access: "read" } },
    async (request, reply) => {
      const hash = parseHash(request.params.hash);
      holdSlot(slots, reply, ctx.metrics);
      const abort = downloadSignal(reply);
      const manifest = await readManifest(ctx, hash, abort.signal);
      const p = plan(request, reply, manifest);
      if (p.status === 304) return reply.code(304).send();
      const length = p.end - p.start + 1;
      if (manifest.inline !== undefined) {
        // Already in memory: one write, no stream.
        return reply.code(p.status).send(inlinePiece(ctx, manifest, p.start, p.end));
      }
      const pieces = plaintext(ctx, manifest, p.start, p.end, abort.signal, readAhead);
      let first: IteratorResult<Buffer>;
      try {
        first = await pieces.next();
      } catch (err) {
        abort.abort(err); // the chunks fetched ahead are of no use now
        throw err;
      }
      // A client that stops reading is cut after writeTimeoutMs: its pieces and fetches are freed.
      const body = downloadBody(ctx, request, reply, first, pieces, abort);
      return reply.code(p.status).header("content-length", String(length)).send(body);
    },
  );

  app.head<{ Params: { hash: string } }>(
    "/v1/files/:hash",
    { config: { access: "read" } },
    async (request, reply) => {
      const hash = parseHash(request.params.hash);
      const manifest = await readManifest(ctx, hash);
      const p = plan(request, reply, manifest);
      if (p.status !== 304) reply.header("content-length", String(p.end - p.start + 1));
      return reply.code(p.status).send();
    },
  );
}
