/**
 * The S3 API on its own port: a plain node:http server rather than Fastify, because S3 picks the
 * call by method plus query subresources (?uploads, ?uploadId, ?delete, ?list-type=2) and by the
 * Host header (virtual-host buckets), so every route would be one wildcard dispatching on its own,
 * and every body must reach the handlers as an unparsed stream. The /v1 listener's protections are
 * kept: header timeout, body progress, connection and transfer caps, request ids, a log line each.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AccessKeyDirectory } from "../access/types.ts";
import type { GatewayConfig } from "../config/index.ts";
import { DfsError, isDfsError } from "../errors.ts";
import { settleBody } from "../gateway/drain.ts";
import { TransferSlots } from "../gateway/guards.ts";
import { capConnections } from "../gateway/listener.ts";
import type { GatewayMetrics } from "../gateway/metrics.ts";
import type { Logger } from "../logger.ts";
import type { NameService } from "../names/types.ts";
import { type AuthSettings, authenticate } from "./auth.ts";
import type { S3Call, S3Deps } from "./call.ts";
import { errorBody, s3Error } from "./errors-xml.ts";
import { dispatch } from "./router.ts";
import { headerValues, parseQuery, percentDecode } from "./sigv4.ts";

export interface S3Options {
  names: NameService;
  /** The cluster's access keys: their secrets check signatures. */
  directory: AccessKeyDirectory;
  /** Whether the gateway has keys (then every S3 request must be signed by a known access key). */
  keyed: boolean;
  region: string;
  gateway: GatewayConfig["gateway"];
  logger: Logger;
  metrics?: GatewayMetrics | undefined;
  /** The clock signatures are checked against (tests move it). */
  now?: () => number;
  /** Uploads and downloads in flight, shared with /v1; a new pool of maxTransfers when absent. */
  slots?: TransferSlots | undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Virtual-host style: "<bucket>.localhost" or "<bucket>.s3.<domain>"; anything else is path style. */
export function bucketFromHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  const dot = name.indexOf(".");
  if (dot <= 0) return undefined;
  const rest = name.slice(dot + 1);
  if (rest === "localhost" || rest.startsWith("s3.")) return name.slice(0, dot);
  return undefined;
}

export function locate(rawPath: string, host: string | undefined): { bucket?: string; key?: string } {
  const hosted = bucketFromHost(host);
  const path = percentDecode(rawPath).slice(1);
  if (hosted !== undefined) return path === "" ? { bucket: hosted } : { bucket: hosted, key: path };
  if (path === "") return {};
  const slash = path.indexOf("/");
  if (slash < 0) return { bucket: path };
  const key = path.slice(slash + 1);
  return key === "" ? { bucket: path.slice(0, slash) } : { bucket: path.slice(0, slash), key };
}

export interface S3Handler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Refuses new requests from now on (shutdown). */
  close(): void;
  readonly slots: TransferSlots;
}

export function s3Handler(options: S3Options): S3Handler {
  const g = options.gateway;
  const metrics = options.metrics;
  const slots = options.slots ?? new TransferSlots(g.maxTransfers);
  const deps: S3Deps = {
    names: options.names,
    region: options.region,
    logger: options.logger,
    slots,
    maxUploadBytes: g.maxUploadBytes,
    bodyIdleTimeoutMs: g.bodyIdleTimeoutMs,
    writeTimeoutMs: g.writeTimeoutMs,
    onStall: () => metrics?.guarded.inc({ reason: "body_stalled" }),
    onGuarded: (reason) => metrics?.guarded.inc({ reason }),
  };
  const settings: AuthSettings = {
    directory: options.directory,
    keyed: options.keyed,
    region: options.region,
    now: options.now ?? Date.now,
  };
  let closing = false;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    const log = options.logger.child({ reqId: id });
    const started = performance.now();
    res.setHeader("x-amz-request-id", id);
    res.setHeader("x-request-id", id);
    res.setHeader("server", "dfs-mesh");
    // During shutdown no connection is kept for another request.
    if (closing) res.setHeader("connection", "close");
    const aborter = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) aborter.abort(new DfsError("DFS_ERR_CANCELLED", "the client went away"));
    });
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    let accessKey: string | undefined;
    let s3Code: string | undefined;
    const run = async () => {
      if (closing)
        throw new DfsError("DFS_ERR_SHUTTING_DOWN", "the gateway is shutting down; retry elsewhere");
      if (!rawPath.startsWith("/"))
        throw new DfsError("DFS_ERR_BAD_REQUEST", "the request target must be a path");
      const query = parseQuery(q < 0 ? "" : url.slice(q + 1));
      const headers = headerValues(req.rawHeaders);
      const method = req.method ?? "GET";
      const auth = await authenticate({ method, rawPath, query, headers }, settings);
      if (auth.principal.kind === "access-key") accessKey = auth.principal.key.id;
      const where = locate(rawPath, req.headers.host);
      const firsts = new Map<string, string>();
      for (const [k, v] of query) if (!firsts.has(k)) firsts.set(k, v);
      const call: S3Call = {
        req,
        res,
        id,
        log,
        method,
        bucket: where.bucket,
        key: where.key,
        query: firsts,
        headers,
        auth,
        principal: auth.principal,
        deps,
        signal: aborter.signal,
      };
      await dispatch(call);
    };
    run()
      .catch((err: unknown) => {
        const answer = errorBody(err, id, rawPath);
        s3Code = answer.code;
        if (isDfsError(err)) metrics?.error(err.code);
        if (answer.status >= 500 && answer.code !== "NotImplemented")
          log.error({ err, code: answer.code }, "s3 request failed");
        else
          log.info(
            { code: answer.code, detail: err instanceof Error ? err.message : String(err) },
            "s3 request failed",
          );
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const headers: Record<string, string | number> = { "content-type": "application/xml" };
        const size = isDfsError(err) ? err.details?.size : undefined;
        if (answer.code === "InvalidRange" && typeof size === "number")
          headers["content-range"] = `bytes */${size}`;
        if (answer.status === 503) headers["retry-after"] = "1";
        if (answer.code === "RequestTimeout") headers.connection = "close";
        else
          settleBody(
            req,
            {
              header: (n, v) => {
                headers[n] = v;
              },
            },
            g.bodyIdleTimeoutMs,
          );
        const bytes = Buffer.from(answer.xml);
        headers["content-length"] = req.method === "HEAD" ? 0 : bytes.length;
        res.writeHead(answer.status, headers);
        res.end(req.method === "HEAD" ? undefined : bytes);
      })
      .finally(() => {
        const ms = performance.now() - started;
        metrics?.requests.inc({ method: req.method ?? "", route: "s3", status: String(res.statusCode) });
        metrics?.latency.observe({ method: req.method ?? "", route: "s3" }, ms / 1000);
        log.info(
          {
            method: req.method,
            url,
            statusCode: res.statusCode,
            ms,
            ...(accessKey === undefined ? {} : { accessKey }),
            ...(s3Code === undefined ? {} : { s3Code }),
          },
          "s3 request done",
        );
      });
  };
  const close = () => {
    closing = true;
  };
  return Object.assign(handler, { close, slots });
}

/** What a connection past maxConnections reads before it is closed: S3's SlowDown, as XML. */
function refusal(max: number): Buffer {
  const id = randomUUID();
  const err = s3Error(
    "SlowDown",
    `this gateway serves ${max} connections at most; retry shortly`,
    "DFS_ERR_BUSY",
  );
  const body = errorBody(err, id, "/").xml;
  return Buffer.from(
    [
      "HTTP/1.1 503 Service Unavailable",
      "content-type: application/xml",
      `content-length: ${Buffer.byteLength(body)}`,
      `x-amz-request-id: ${id}`,
      "retry-after: 1",
      "connection: close",
      "",
      body,
    ].join("\r\n"),
  );
}

export interface S3Listener {
  readonly server: Server;
  /** "host:port" actually bound. */
  readonly address: string;
  /** Stops accepting; in-flight requests get up to graceMs, then their connections are closed. */
  close(graceMs: number): Promise<void>;
}

export async function startS3Listener(
  options: S3Options,
  listen: { host: string; port: number },
): Promise<S3Listener> {
  const g = options.gateway;
  const handler = s3Handler(options);
  const server = createServer(
    {
      headersTimeout: g.headersTimeoutMs,
      requestTimeout: 0,
      keepAliveTimeout: g.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(g.headersTimeoutMs / 4))),
    },
    handler,
  );
  capConnections(
    server,
    g.maxConnections,
    () => options.metrics?.guarded.inc({ reason: "connections" }),
    refusal(g.maxConnections),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const address =
    bound !== null && typeof bound === "object"
      ? `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`
      : `${listen.host}:${listen.port}`;
  return {
    server,
    address,
    close: async (graceMs) => {
      handler.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      try {
        await closed;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
