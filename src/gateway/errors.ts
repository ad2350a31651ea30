import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Problem } from "../api/index.ts";
import { DfsError, type ErrorCode, ErrorCodes, isDfsError } from "../errors.ts";
import { settleBody } from "./drain.ts";

/**
 * The one place an error code becomes an HTTP status. Typed as a Record over every code, so a code
 * added to the catalogue without a status here fails the build.
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  DFS_ERR_INTERNAL: 500,
  DFS_ERR_CONFIG: 500,
  DFS_ERR_BAD_REQUEST: 400,
  DFS_ERR_NOT_FOUND: 404,
  // Bytes from a node that do not match their id: the node's fault, not the client's.
  DFS_ERR_HASH_MISMATCH: 502,
  DFS_ERR_DISK_FULL: 507,
  DFS_ERR_TOO_LARGE: 413,
  DFS_ERR_PROTOCOL: 502,
  // The gateway could not authenticate to a node: a cluster misconfiguration.
  DFS_ERR_AUTH: 502,
  DFS_ERR_VERSION: 502,
  DFS_ERR_TIMEOUT: 504,
  DFS_ERR_UNAVAILABLE: 503,
  // The client went away; nobody reads this status, but it is the client's doing.
  DFS_ERR_CANCELLED: 400,
  DFS_ERR_CLOSED: 503,
  DFS_ERR_BUSY: 503,
  DFS_ERR_INSUFFICIENT_REPLICAS: 503,
  DFS_ERR_INVALID_HASH: 400,
  DFS_ERR_UNAUTHORIZED: 401,
  DFS_ERR_FORBIDDEN: 403,
  DFS_ERR_RANGE: 416,
  DFS_ERR_CORRUPT: 502,
  DFS_ERR_REGISTRY: 503,
  DFS_ERR_SHUTTING_DOWN: 503,
  DFS_ERR_DATA_DIR_LOCKED: 500,
  // A node's registry view disagreed with the gateway's chain (a member just joined or left).
  DFS_ERR_FORWARD_REFUSED: 503,
  // The client stalled its own request body: nothing a retry elsewhere would fix.
  DFS_ERR_REQUEST_TIMEOUT: 408,
  DFS_ERR_INVALID_RECORD: 400,
  // A writer's clock far ahead of the node's: the cluster's clocks disagree.
  DFS_ERR_CLOCK_SKEW: 503,
  DFS_ERR_NO_SUCH_BUCKET: 404,
  DFS_ERR_NO_SUCH_KEY: 404,
  DFS_ERR_BUCKET_EXISTS: 409,
  DFS_ERR_BUCKET_NOT_EMPTY: 409,
  DFS_ERR_INVALID_NAME: 400,
  DFS_ERR_PRECONDITION: 412,
  DFS_ERR_NO_SUCH_UPLOAD: 404,
  DFS_ERR_INVALID_PART: 400,
  DFS_ERR_BAD_DIGEST: 400,
};

export const PROBLEM_TYPE = "application/problem+json";

/** RFC 9457 problem details, plus our stable code and the request id to quote in a bug report. */
export type { Problem };

export function problemType(code: ErrorCode): string {
  return `urn:dfs-mesh:problem:${code.slice("DFS_ERR_".length).toLowerCase().replaceAll("_", "-")}`;
}

function hasStatus(err: unknown): err is FastifyError & { statusCode: number } {
  return err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === "number";
}

/**
 * Whatever was thrown, as a DfsError. Errors of Fastify and its plugins carry an HTTP status: a
 * 413 stays "too large", other client errors become "bad request" (malformed multipart, media type).
 */
export function classify(err: unknown): DfsError {
  if (isDfsError(err)) return err;
  if (hasStatus(err)) {
    if (err.statusCode === 413) return new DfsError("DFS_ERR_TOO_LARGE", err.message, { cause: err });
    if (err.statusCode >= 400 && err.statusCode < 500) {
      return new DfsError("DFS_ERR_BAD_REQUEST", err.message, { cause: err });
    }
  }
  return new DfsError("DFS_ERR_INTERNAL", undefined, { cause: err });
}

export function toProblem(err: DfsError, requestId: string): Problem {
  // An internal error's message may describe our internals; say only what the catalogue says.
  const detail = err.code === "DFS_ERR_INTERNAL" ? ErrorCodes.DFS_ERR_INTERNAL.message : err.message;
  return {
    type: problemType(err.code),
    title: ErrorCodes[err.code].message,
    status: HTTP_STATUS[err.code],
    detail,
    code: err.code,
    requestId,
  };
}

/** Headers some statuses call for (RFC 9110 §15.5.2, §14.4). */
function extraHeaders(err: DfsError, reply: FastifyReply): void {
  if (err.code === "DFS_ERR_UNAUTHORIZED" || err.code === "DFS_ERR_FORBIDDEN") {
    reply.header("www-authenticate", 'Bearer realm="dfs"');
  }
  const size = err.details?.size;
  if (err.code === "DFS_ERR_RANGE" && typeof size === "number")
    reply.header("content-range", `bytes */${size}`);
  if (HTTP_STATUS[err.code] === 503) reply.header("retry-after", "1");
}

export type ErrorListener = (err: DfsError, request: FastifyRequest) => void;

/** Fastify's error handler: every error leaves as problem+json, or, once bytes were sent, as an abort. */
export function problemHandler(onError: ErrorListener, bodyIdleTimeoutMs: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const err = classify(error);
    const status = HTTP_STATUS[err.code];
    onError(err, request);
    if (status >= 500) request.log.error({ err: error, code: err.code }, err.message);
    else request.log.info({ code: err.code, detail: err.message }, "request failed");
    if (reply.raw.headersSent) {
      // Never finish a response whose bytes we could not vouch for.
      reply.raw.destroy();
      return;
    }
    reply.removeHeader("content-length");
    reply.removeHeader("content-disposition");
    reply.removeHeader("etag");
    reply.removeHeader("content-range");
    extraHeaders(err, reply);
    // A client too slow to send its body would be as slow to have the rest of it read.
    if (err.code === "DFS_ERR_REQUEST_TIMEOUT") reply.header("connection", "close");
    else settleBody(request.raw, reply, bodyIdleTimeoutMs);
    reply.code(status).type(PROBLEM_TYPE).send(toProblem(err, request.id));
  };
}
