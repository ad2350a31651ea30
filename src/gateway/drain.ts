import type { IncomingMessage } from "node:http";
import { BODY_PROGRESS_BYTES } from "./guards.ts";

/**
 * The most of an unread request body the gateway reads and discards after answering early (an
 * error before or during an upload). Most clients read no answer until they have sent their whole
 * body, so a connection closed under them shows as a broken pipe instead of our 413 or 503. Past
 * this, the connection is closed instead: better a broken pipe than gigabytes read for nothing.
 */
export const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Call before answering a request whose body may not have been read to its end. The drain must
 * make the progress of a body being read (BODY_PROGRESS_BYTES per idleTimeoutMs), else the
 * connection is closed: a trickled body never holds its socket.
 */
export function settleBody(
  req: IncomingMessage,
  reply: { header(name: string, value: string): unknown },
  idleTimeoutMs: number,
): void {
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
  let progress = 0;
  let timer = setTimeout(() => req.destroy(), idleTimeoutMs);
  req.on("data", (piece: Buffer) => {
    seen += piece.length;
    progress += piece.length;
    if (seen > DRAIN_LIMIT_BYTES) req.destroy();
    else if (progress >= BODY_PROGRESS_BYTES) {
      progress = 0;
      clearTimeout(timer);
      timer = setTimeout(() => req.destroy(), idleTimeoutMs);
    }
  });
  const stop = () => clearTimeout(timer);
  req.once("end", stop);
  req.once("close", stop);
  req.resume();
}
