import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { DfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import { WriteStall } from "../guards.ts";
import { SentPieces } from "./sent-pieces.ts";

/** Why the chunk fetches of a finished response stop (made once: an abort() without one builds an exception). */
const BODY_CLOSED = new DfsError("DFS_ERR_CANCELLED", "the response body was closed");

/**
 * A download's response body from its first piece (already read, so failures before it got a
 * proper status) and the rest. A client that stops reading is cut after writeTimeoutMs, its
 * pieces and fetches freed; pieces are freed as soon as written (SentPieces); closing the body
 * aborts `abort`, which stops the chunk fetches.
 */
export function downloadBody(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  first: IteratorResult<Buffer>,
  rest: AsyncIterable<Buffer>,
  abort: AbortController,
): Readable {
  const stall = new WriteStall(ctx.config.writeTimeoutMs, () => {
    ctx.metrics.guarded.inc({ reason: "reader_stopped" });
    request.log.info({ writeTimeoutMs: ctx.config.writeTimeoutMs }, "the client stopped reading; cut");
    reply.raw.destroy();
  });
  async function* all(): AsyncGenerator<Buffer> {
    if (first.done) return;
    stall.arm();
    yield first.value;
    stall.disarm();
    sent.add(first.value);
    for await (const piece of rest) {
      sent.freeWritten();
      stall.arm();
      yield piece;
      stall.disarm();
      sent.add(piece);
    }
    // The last pieces still have to reach the client.
    if (!reply.raw.writableFinished) stall.arm();
  }
  const body = Readable.from(all(), { objectMode: false });
  const sent = new SentPieces(body, reply.raw);
  body.once("close", () => abort.abort(BODY_CLOSED));
  reply.raw.once("close", () => stall.disarm());
  return body;
}
