/**
 * The one catalogue of error codes. Every failure that crosses a boundary (wire, HTTP, CLI exit)
 * carries one of these codes. The number is what the node protocol sends in an ERROR frame; it is
 * part of the wire format, so never renumber an existing code. HTTP statuses are mapped in one
 * place, the gateway's error handler, not here.
 */
export const ErrorCodes = {
  DFS_ERR_INTERNAL: { wire: 1, message: "internal error" },
  DFS_ERR_CONFIG: { wire: 2, message: "invalid configuration" },
  DFS_ERR_BAD_REQUEST: { wire: 3, message: "malformed request" },
  DFS_ERR_NOT_FOUND: { wire: 4, message: "not found" },
  DFS_ERR_HASH_MISMATCH: { wire: 5, message: "bytes do not match their id" },
  DFS_ERR_DISK_FULL: { wire: 6, message: "not enough free space" },
  DFS_ERR_TOO_LARGE: { wire: 7, message: "object exceeds the size limit" },
  DFS_ERR_PROTOCOL: { wire: 8, message: "protocol violation" },
  DFS_ERR_AUTH: { wire: 9, message: "authentication failed" },
  DFS_ERR_VERSION: { wire: 10, message: "unsupported protocol version" },
  DFS_ERR_TIMEOUT: { wire: 11, message: "timed out" },
  DFS_ERR_UNAVAILABLE: { wire: 12, message: "peer unavailable" },
  DFS_ERR_CANCELLED: { wire: 13, message: "request cancelled" },
  DFS_ERR_CLOSED: { wire: 14, message: "connection closed" },
  DFS_ERR_BUSY: { wire: 15, message: "too many requests in flight" },
  DFS_ERR_INSUFFICIENT_REPLICAS: { wire: 16, message: "too few nodes could store the data" },
  DFS_ERR_INVALID_HASH: { wire: 17, message: "not a lowercase hex SHA-256" },
  DFS_ERR_UNAUTHORIZED: { wire: 18, message: "missing credentials" },
  DFS_ERR_FORBIDDEN: { wire: 19, message: "credentials not accepted" },
  DFS_ERR_RANGE: { wire: 20, message: "range not satisfiable" },
  DFS_ERR_CORRUPT: { wire: 21, message: "stored data failed verification" },
  DFS_ERR_REGISTRY: { wire: 22, message: "registry unavailable" },
  DFS_ERR_SHUTTING_DOWN: { wire: 23, message: "shutting down" },
  DFS_ERR_DATA_DIR_LOCKED: { wire: 24, message: "the data directory is in use by another process" },
  DFS_ERR_FORWARD_REFUSED: { wire: 25, message: "forward list names a node that is not a live member" },
  DFS_ERR_REQUEST_TIMEOUT: { wire: 26, message: "the client was too slow" },
  DFS_ERR_INVALID_RECORD: {
    wire: 27,
    message: "not a valid table record (table name, key, writer or flags out of bounds)",
  },
  DFS_ERR_CLOCK_SKEW: { wire: 28, message: "version stamped too far ahead of this node's clock" },
  DFS_ERR_NO_SUCH_BUCKET: { wire: 29, message: "no such bucket" },
  DFS_ERR_NO_SUCH_KEY: { wire: 30, message: "no such key" },
  DFS_ERR_BUCKET_EXISTS: { wire: 31, message: "the bucket already exists" },
  DFS_ERR_BUCKET_NOT_EMPTY: { wire: 32, message: "the bucket is not empty" },
  DFS_ERR_INVALID_NAME: { wire: 33, message: "not a valid bucket name or key" },
  DFS_ERR_PRECONDITION: { wire: 34, message: "a precondition of the request does not hold" },
  DFS_ERR_NO_SUCH_UPLOAD: { wire: 35, message: "no such multipart upload" },
  DFS_ERR_INVALID_PART: { wire: 36, message: "a part is missing or does not match its ETag" },
  DFS_ERR_BAD_DIGEST: { wire: 37, message: "the body does not match its digest" },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

const byWire = new Map<number, ErrorCode>(
  Object.entries(ErrorCodes).map(([code, v]) => [v.wire, code as ErrorCode]),
);

export function codeFromWire(wire: number): ErrorCode {
  return byWire.get(wire) ?? "DFS_ERR_INTERNAL";
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ErrorCodes, value);
}

/** The one error class. `details` is safe to show to clients; `cause` stays in logs. */
export class DfsError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message ?? ErrorCodes[code].message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = "DfsError";
    this.code = code;
    this.details = options?.details;
  }
}

export function isDfsError(err: unknown, code?: ErrorCode): err is DfsError {
  return err instanceof DfsError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a DfsError, keeping the original as `cause`. */
export function toDfsError(err: unknown, fallback: ErrorCode = "DFS_ERR_INTERNAL"): DfsError {
  if (err instanceof DfsError) return err;
  if (isNodeError(err) && err.code === "ENOSPC")
    return new DfsError("DFS_ERR_DISK_FULL", undefined, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new DfsError(fallback, message, { cause: err });
}

export function isNodeError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string";
}
