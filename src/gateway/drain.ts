import type { IncomingMessage } from "node:http";
import type { FastifyReply } from "fastify";

/**
 * The most of an unread request body the gateway reads and discards after answering early (an
 * error before or during an upload). Most clients read no answer until they have sent their whole
 * body, so a connection closed under them shows as a broken pipe instead of our 413 or 503. Past
 * this, the connection is closed instead: better a broken pipe than gigabytes read for nothing.
 */
export const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/** Call before answering a request whose body may not have been read to its end. */
export function settleBody(req: IncomingMessage, reply: FastifyReply): void {
  if (req.complete || req.destroyed) return;
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES) {
    reply.header("connection", "close");
    return;
  }
  let seen = 0;
  req.unpipe(); // a multipart parser that stopped reading would hold the stream paused
  // read(0) marks the body as ours, so Node does not start its own, unbounded, dump of it.
  req.read(0);
  req.on("data", (piece: Buffer) => {
    seen += piece.length;
    if (seen > DRAIN_LIMIT_BYTES) req.destroy();
  });
  req.resume();
}
