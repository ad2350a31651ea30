import { randomUUID } from "node:crypto";
import { DfsError, isDfsError } from "../errors.ts";
import { xmlDocument } from "./xml.ts";

/** The S3 error codes this listener answers with, and their HTTP statuses. */
export const S3_STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  RequestTimeout: 400,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3Code = keyof typeof S3_STATUS;

/**
 * The S3 word for each DfsError code (the catalogue's and the name service's); a DfsError whose
 * details carry `s3` (an S3Code) says its own word. Anything else is InternalError.
 */
const BY_DFS_CODE: Record<string, S3Code> = {
  DFS_ERR_BAD_REQUEST: "InvalidRequest",
  DFS_ERR_NOT_FOUND: "NoSuchKey",
  DFS_ERR_TOO_LARGE: "EntityTooLarge",
  DFS_ERR_UNAUTHORIZED: "AccessDenied",
  DFS_ERR_FORBIDDEN: "AccessDenied",
  DFS_ERR_RANGE: "InvalidRange",
  DFS_ERR_BUSY: "SlowDown",
  DFS_ERR_UNAVAILABLE: "ServiceUnavailable",
  DFS_ERR_CLOSED: "ServiceUnavailable",
  DFS_ERR_INSUFFICIENT_REPLICAS: "ServiceUnavailable",
  DFS_ERR_REGISTRY: "ServiceUnavailable",
  DFS_ERR_SHUTTING_DOWN: "ServiceUnavailable",
  DFS_ERR_FORWARD_REFUSED: "ServiceUnavailable",
  DFS_ERR_CLOCK_SKEW: "ServiceUnavailable",
  DFS_ERR_DISK_FULL: "ServiceUnavailable",
  DFS_ERR_TIMEOUT: "ServiceUnavailable",
  DFS_ERR_REQUEST_TIMEOUT: "RequestTimeout",
  DFS_ERR_CANCELLED: "RequestTimeout",
  DFS_ERR_NO_SUCH_BUCKET: "NoSuchBucket",
  DFS_ERR_NO_SUCH_KEY: "NoSuchKey",
  DFS_ERR_BUCKET_NOT_EMPTY: "BucketNotEmpty",
  DFS_ERR_BUCKET_EXISTS: "BucketAlreadyOwnedByYou",
  DFS_ERR_INVALID_NAME: "InvalidArgument",
  DFS_ERR_INVALID_BUCKET_NAME: "InvalidBucketName",
  DFS_ERR_PRECONDITION: "PreconditionFailed",
  DFS_ERR_NO_SUCH_UPLOAD: "NoSuchUpload",
  DFS_ERR_INVALID_PART: "InvalidPart",
  DFS_ERR_INVALID_PART_ORDER: "InvalidPartOrder",
  DFS_ERR_ENTITY_TOO_SMALL: "EntityTooSmall",
  DFS_ERR_BAD_DIGEST: "BadDigest",
  DFS_ERR_METADATA_TOO_LARGE: "MetadataTooLarge",
};

/** A failure in S3's words: a DfsError whose details name the S3 code. */
export function s3Error(
  s3: S3Code,
  message: string,
  code: DfsError["code"] = "DFS_ERR_BAD_REQUEST",
  details: Record<string, unknown> = {},
): DfsError {
  return new DfsError(code, message, { details: { ...details, s3 } });
}

function isS3Code(value: unknown): value is S3Code {
  return typeof value === "string" && Object.hasOwn(S3_STATUS, value);
}

export function s3CodeOf(err: unknown): S3Code {
  if (!isDfsError(err)) return "InternalError";
  const given = err.details?.s3;
  if (isS3Code(given)) return given;
  return BY_DFS_CODE[err.code] ?? "InternalError";
}

export interface S3ErrorBody {
  status: number;
  code: S3Code;
  xml: string;
}

/** The XML error document; an internal error's message says only that. */
export function errorBody(err: unknown, requestId: string, resource: string): S3ErrorBody {
  const code = s3CodeOf(err);
  const message =
    code === "InternalError" || !(err instanceof Error)
      ? "We encountered an internal error. Please try again."
      : err.message;
  const xml = xmlDocument(
    "Error",
    [
      ["Code", code],
      ["Message", message],
      ["Resource", resource],
      ["RequestId", requestId],
      ["HostId", requestId],
    ],
    // No namespace, as S3 sends errors: botocore (aws-cli) reads the code only from a bare <Error>.
    null,
  );
  return { status: S3_STATUS[code], code, xml };
}

export const newRequestId = (): string => randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
