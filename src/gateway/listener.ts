import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { GatewayConfig } from "../config/index.ts";
import { DfsError } from "../errors.ts";
import { PROBLEM_TYPE, toProblem } from "./errors.ts";

/** How long a refused connection may take to read its 503 before it is closed under it. */
const REFUSED_LINGER_MS = 1000;

/**
 * Options of the HTTP server under Fastify. Headers must arrive within headersTimeoutMs (Node
 * answers 408 and closes); Node checks that every checkIntervalMs, so the timeout is kept within a
 * quarter of itself. The whole request has no time limit (a large upload takes what it takes):
 * its body's progress is guarded instead (guards.ts), and a response's by the write timeout.
 */
export function serverOptions(g: GatewayConfig["gateway"]) {
  const checkIntervalMs = Math.max(50, Math.min(1000, Math.floor(g.headersTimeoutMs / 4)));
  return {
    http: { headersTimeout: g.headersTimeoutMs, connectionsCheckingInterval: checkIntervalMs },
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: g.keepAliveTimeoutMs,
  };
}

function refusal(max: number): Buffer {
  const err = new DfsError("DFS_ERR_BUSY", `this gateway serves ${max} connections at most; retry shortly`);
  const body = JSON.stringify(toProblem(err, randomUUID()));
  return Buffer.from(
    [
      "HTTP/1.1 503 Service Unavailable",
      `content-type: ${PROBLEM_TYPE}`,
      `content-length: ${Buffer.byteLength(body)}`,
      "retry-after: 1",
      "connection: close",
      "",
      body,
    ].join("\r\n"),
  );
}

/**
 * At most `max` connections: one more is answered 503 (DFS_ERR_BUSY, Retry-After) at once, before
 * it is read, and closed, so it never reaches the HTTP parser nor holds its buffers (`answer`: the
 * bytes sent, problem+json unless the listener speaks otherwise). Node's own
 * 'connection' listeners are wrapped to run only for accepted sockets. `onRefused` counts refusals.
 */
export function capConnections(
  server: Server,
  max: number,
  onRefused: () => void,
  answer: Buffer = refusal(max),
): () => number {
  let open = 0;
  const listeners = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    if (open >= max) {
      onRefused();
      socket.on("error", () => {});
      socket.resume(); // whatever the client sends is discarded
      socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
      socket.end(answer);
      return;
    }
    open++;
    socket.once("close", () => {
      open--;
    });
    for (const listener of listeners) listener.call(server, socket);
  });
  return () => open;
}
