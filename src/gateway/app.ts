import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { ClusterAccessKeys } from "../access/index.ts";
import type { GatewayConfig } from "../config/index.ts";
import { CHUNK_OVERHEAD, ChunkCipher } from "../crypto/index.ts";
import { DfsError } from "../errors.ts";
import { HybridClock } from "../formats/index.ts";
import type { Names } from "../names/index.ts";
import { TableClient } from "../tables/index.ts";
import { BufferPool } from "../transport/index.ts";
import { ApiKeys } from "./auth.ts";
import { PlacementCache } from "./cluster.ts";
import type { GatewayContext, GatewayDeps } from "./context.ts";
import { problemHandler } from "./errors.ts";
import { ReadAheadBudget, TransferSlots } from "./guards.ts";
import { gatewayHedges } from "./hedge.ts";
import { checkChunkBytes, effectiveMaxUpload } from "./limits.ts";
import { capConnections, serverOptions } from "./listener.ts";
import { GatewayMetrics } from "./metrics.ts";
import { nameServiceFor, startUploadSweep } from "./names.ts";
import { authenticate, type SessionAuth } from "./principal.ts";
import { bucketRoutes } from "./routes/buckets.ts";
import { downloadRoutes } from "./routes/download.ts";
import { keyRoutes } from "./routes/keys.ts";
import { manageRoutes } from "./routes/manage.ts";
import { multipartRoutes } from "./routes/multipart.ts";
import { objectRoutes } from "./routes/objects.ts";
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

declare module "fastify" {
  interface FastifyInstance {
    /** The gateway's naming service (ctx.names), for what shares it: the S3 listener, tests. */
    names: Names;
    /** What another listener of this gateway (the S3 API) shares with /v1: context and transfer slots. */
    shared: {
      readonly ctx: GatewayContext;
      readonly slots: TransferSlots;
      /** Lets the web console sign requests in by its session cookie (before the app listens). */
      useSessions(auth: SessionAuth): void;
    };
  }
  interface FastifyRequest {
    /** The name of the API key (or the access key id) the request came with; for the log. */
    apiKey?: string;
  }
}

/** The keys a gateway checks: those of its config unless the caller keeps them (to reload them). */
export function keysOf(config: GatewayConfig): ApiKeys {
  const g = config.gateway;
  return new ApiKeys(g.keys, {
    keyed: g.apiKeys.length > 0 || g.apiKeysFile !== undefined,
    protectReads: g.protectReads,
  });
}

/**
 * The gateway's HTTP app, built apart from listen() so tests can `inject`. The deps are owned by
 * the caller, which closes them after the app. `keys` may be given to change them while it runs.
 */
export function buildGateway(
  config: GatewayConfig,
  deps: GatewayDeps,
  keys: ApiKeys = keysOf(config),
): FastifyInstance {
  checkChunkBytes(config.gateway.chunkBytes);
  const maxUploadBytes = effectiveMaxUpload(config.gateway);
  if (maxUploadBytes < config.gateway.maxUploadBytes) {
    deps.logger.warn(
      { maxUploadBytes, configured: config.gateway.maxUploadBytes, chunkBytes: config.gateway.chunkBytes },
      "uploads are limited below maxUploadBytes: a manifest cannot list more chunks; raise chunkBytes",
    );
  }
  const hedges = gatewayHedges();
  const view = deps.view;
  const rejected = view.rejected === undefined ? undefined : () => view.rejected ?? 0;
  const metrics = new GatewayMetrics(() => view.live(), hedges, rejected);
  const placement = new PlacementCache(deps.view, config.gateway.replicas);
  const tables = new TableClient({
    nodes: deps.nodes,
    order: (placementId) => placement.order(placementId),
    replicas: config.gateway.replicas,
    writeQuorum: config.gateway.writeQuorum,
    clock: new HybridClock(),
    writer: deps.identity?.credential.id ?? "gateway",
    hedgeMs: () => hedges.small.ms,
    onHedge: () => metrics.readHedges.inc({ kind: "small" }),
    onBackgroundError: (err, addr) =>
      deps.logger.warn({ addr, code: err.code, err: err.message }, "tables: a background write failed"),
  });
  const access = new ClusterAccessKeys({
    tables,
    clusterKey: config.key,
    onCorrupt: (id, err) =>
      deps.logger.warn({ accessKey: id, err: err.message }, "access key record does not open"),
  });
  let names: Names | undefined;
  const ctx: GatewayContext = {
    get names(): Names {
      if (names === undefined) throw new DfsError("DFS_ERR_INTERNAL", "the naming service is not built yet");
      return names;
    },
    config: { ...config.gateway, maxUploadBytes },
    nodes: deps.nodes,
    view: deps.view,
    cipher: new ChunkCipher(config.key),
    identity: deps.identity,
    placement,
    tables,
    access,
    metrics,
    logger: deps.logger,
    buffers: {
      plain: pool(config.gateway.chunkBytes, PLAIN_BYTES_KEPT),
      sealed: pool(config.gateway.chunkBytes + CHUNK_OVERHEAD, SEALED_BYTES_KEPT),
    },
    hedges,
  };
  const slots = new TransferSlots(config.gateway.maxTransfers);
  // Half a chunk ahead per transfer: a few downloads still read fully ahead (READ_AHEAD chunks
  // each), while as many stalled ones as maxTransfers hold little more than their current chunk.
  const readAhead = new ReadAheadBudget((config.gateway.maxTransfers * config.gateway.chunkBytes) / 2);
  names = nameServiceFor(ctx, { now: deps.now, readAhead });

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId,
    ...serverOptions(config.gateway),
    forceCloseConnections: "idle",
    // Refused during shutdown by our own hook below, as problem+json like every other error.
    return503OnClosing: false,
    exposeHeadRoutes: false,
    routerOptions: { ignoreTrailingSlash: true },
    // One line per request, written below when it ends, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const connections = capConnections(app.server, config.gateway.maxConnections, () =>
    metrics.guarded.inc({ reason: "connections" }),
  );
  metrics.load = { connections, transfers: () => slots.inUse };

  let closing = false;
  let sessions: SessionAuth | undefined;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    if (closing) throw new DfsError("DFS_ERR_SHUTTING_DOWN", "the gateway is shutting down; retry elsewhere");
    const principal = await authenticate(
      request,
      request.routeOptions.config.access ?? "admin",
      keys,
      access,
      sessions,
    );
    if (principal !== undefined) request.principal = principal;
    if (principal?.kind === "access-key") request.apiKey = principal.key.id;
    else if (principal?.name !== undefined) request.apiKey = principal.name;
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
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        ms: reply.elapsedTime,
        ...(request.apiKey === undefined ? {} : { apiKey: request.apiKey }),
      },
      "request done",
    );
  });
  app.setErrorHandler(problemHandler((err) => metrics.error(err.code), config.gateway.bodyIdleTimeoutMs));
  app.setNotFoundHandler({}, async (request) => {
    throw new DfsError("DFS_ERR_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`);
  });

  app.register(async (scope) => uploadRoutes(scope, ctx, slots));
  app.register(async (scope) => downloadRoutes(scope, ctx, slots, readAhead));
  app.register(async (scope) => manageRoutes(scope, ctx));
  app.register(async (scope) => opsRoutes(scope, ctx));
  app.register(async (scope) => keyRoutes(scope, ctx));
  app.register(async (scope) => bucketRoutes(scope, ctx));
  app.register(async (scope) => objectRoutes(scope, ctx, slots));
  app.register(async (scope) => multipartRoutes(scope, ctx, slots));
  app.decorate("names", names);
  const sweep = startUploadSweep(ctx);
  app.addHook("onClose", async () => sweep.stop());
  app.decorate("shared", {
    ctx,
    slots,
    useSessions: (auth: SessionAuth) => {
      sessions = auth;
    },
  });
  return app;
}
