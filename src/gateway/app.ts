import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { GatewayConfig } from "../config/index.ts";
import { CHUNK_OVERHEAD, ChunkCipher } from "../crypto/index.ts";
import { DfsError } from "../errors.ts";
import { BufferPool } from "../transport/index.ts";
import { ApiKeys } from "./auth.ts";
import { PlacementCache } from "./cluster.ts";
import type { GatewayContext, GatewayDeps } from "./context.ts";
import { problemHandler } from "./errors.ts";
import { gatewayHedges } from "./hedge.ts";
import { checkChunkBytes, effectiveMaxUpload } from "./limits.ts";
import { GatewayMetrics } from "./metrics.ts";
import { downloadRoutes } from "./routes/download.ts";
import { manageRoutes } from "./routes/manage.ts";
import { opsRoutes } from "./routes/ops.ts";
import { uploadRoutes } from "./routes/upload.ts";

/** Memory kept for reuse: 16 uploads' chunkers, two transfers' sealed chunks (1 MiB chunks). */
const PLAIN_BYTES_KEPT = 16 * 1024 * 1024;
const SEALED_BYTES_KEPT = 9 * 1024 * 1024;

function pool(size: number, bytesKept: number): BufferPool {
  return new BufferPool(size, Math.max(1, Math.floor(bytesKept / size)));
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's x-request-id when it is a sane token (so ids follow a request across services), else a new one. */
function genReqId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The gateway's HTTP app, built apart from listen() so tests can `inject`. The deps are owned by
 * the caller, which closes them after the app.
 */
export function buildGateway(config: GatewayConfig, deps: GatewayDeps): FastifyInstance {
  checkChunkBytes(config.gateway.chunkBytes);
  const maxUploadBytes = effectiveMaxUpload(config.gateway);
  if (maxUploadBytes < config.gateway.maxUploadBytes) {
    deps.logger.warn(
      { maxUploadBytes, configured: config.gateway.maxUploadBytes, chunkBytes: config.gateway.chunkBytes },
      "uploads are limited below maxUploadBytes: a manifest cannot list more chunks; raise chunkBytes",
    );
  }
  const hedges = gatewayHedges();
  const metrics = new GatewayMetrics(() => deps.view.live(), hedges);
  const ctx: GatewayContext = {
    config: { ...config.gateway, maxUploadBytes },
    nodes: deps.nodes,
    view: deps.view,
    cipher: new ChunkCipher(config.key),
    placement: new PlacementCache(deps.view, config.gateway.replicas),
    metrics,
    logger: deps.logger,
    buffers: {
      plain: pool(config.gateway.chunkBytes, PLAIN_BYTES_KEPT),
      sealed: pool(config.gateway.chunkBytes + CHUNK_OVERHEAD, SEALED_BYTES_KEPT),
    },
    hedges,
  };
  const keys = new ApiKeys(config.gateway.apiKeys, config.gateway.protectReads);

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId,
    // Large uploads take as long as they take; the node protocol has its own per-phase timeouts.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    forceCloseConnections: "idle",
    // Refused during shutdown by our own hook below, as problem+json like every other error.
    return503OnClosing: false,
    exposeHeadRoutes: false,
    routerOptions: { ignoreTrailingSlash: true },
    // One line per request, written below when it ends, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });

  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    if (closing) throw new DfsError("DFS_ERR_SHUTTING_DOWN", "the gateway is shutting down; retry elsewhere");
    keys.check(request, request.routeOptions.config.access ?? "read");
  });
  // Requests that finish during shutdown must not keep their connection open for another one.
  app.addHook("onSend", async (_request, reply) => {
    if (closing) reply.header("connection", "close");
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.info(
      { method: request.method, url: request.url, statusCode: reply.statusCode, ms: reply.elapsedTime },
      "request done",
    );
  });
  app.setErrorHandler(problemHandler((err) => metrics.error(err.code)));
  app.setNotFoundHandler({}, async (request) => {
    throw new DfsError("DFS_ERR_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`);
  });

  app.register(async (scope) => uploadRoutes(scope, ctx));
  app.register(async (scope) => downloadRoutes(scope, ctx));
  app.register(async (scope) => manageRoutes(scope, ctx));
  app.register(async (scope) => opsRoutes(scope, ctx));
  return app;
}
