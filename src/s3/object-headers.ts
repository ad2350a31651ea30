/** What S3 object calls read from and write to headers: metadata, ranges, conditions. */
import type { ObjectHeaders, ObjectInfo } from "../names/types.ts";
import { type Headers, header, type S3Call } from "./call.ts";
import { s3Error } from "./errors-xml.ts";
import { percentDecode } from "./sigv4.ts";

/** S3's limit on user metadata: names and values together. */
const MAX_META_BYTES = 2048;

export function objectMeta(call: S3Call): { headers: ObjectHeaders; userMeta: Record<string, string> } {
  const headers: ObjectHeaders = {
    contentType: header(call, "content-type") ?? "binary/octet-stream",
    contentDisposition: header(call, "content-disposition"),
    contentEncoding: stripAwsChunked(header(call, "content-encoding")),
    contentLanguage: header(call, "content-language"),
    cacheControl: header(call, "cache-control"),
    expires: header(call, "expires"),
  };
  const userMeta: Record<string, string> = {};
  let size = 0;
  for (const [name, values] of call.headers) {
    if (!name.startsWith("x-amz-meta-")) continue;
    const short = name.slice("x-amz-meta-".length);
    const value = values.join(",");
    size += Buffer.byteLength(short) + Buffer.byteLength(value);
    userMeta[short] = value;
  }
  if (size > MAX_META_BYTES) {
    throw s3Error(
      "MetadataTooLarge",
      `Your metadata headers exceed the maximum allowed metadata size (${MAX_META_BYTES} bytes)`,
    );
  }
  return { headers, userMeta };
}

/** aws-chunked is how the body was framed, not how the object is encoded: S3 drops it. */
function stripAwsChunked(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const rest = value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "" && v.toLowerCase() !== "aws-chunked");
  return rest.length === 0 ? undefined : rest.join(", ");
}

export const quoted = (etag: string): string => `"${etag}"`;

/** The headers of a GET or HEAD answer (without length and range). */
export function objectHeaders(info: ObjectInfo): Headers {
  const h: Headers = {
    etag: quoted(info.etag),
    "last-modified": new Date(info.modifiedMs).toUTCString(),
    "content-type": info.headers.contentType,
    "accept-ranges": "bytes",
  };
  const optional: [string, string | undefined][] = [
    ["content-disposition", info.headers.contentDisposition],
    ["content-encoding", info.headers.contentEncoding],
    ["content-language", info.headers.contentLanguage],
    ["cache-control", info.headers.cacheControl],
    ["expires", info.headers.expires],
  ];
  for (const [name, value] of optional) if (value !== undefined) h[name] = value;
  for (const [name, value] of Object.entries(info.userMeta)) h[`x-amz-meta-${name}`] = value;
  if (info.parts !== undefined) h["x-amz-mp-parts-count"] = info.parts;
  return h;
}

/**
 * The byte range a Range header asks of `size` bytes, or undefined for the whole object (no header,
 * or one S3 ignores: several ranges, another unit). An unsatisfiable one fails with InvalidRange.
 */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) throw invalidRange(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw invalidRange(size);
  return { start, end };
}

function invalidRange(size: number) {
  return s3Error("InvalidRange", "The requested range is not satisfiable", "DFS_ERR_RANGE", { size });
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(",").some((t) => {
    const v = t.trim().replace(/^W\//, "");
    return v === "*" || v.replace(/^"|"$/g, "") === etag;
  });
}

function httpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * RFC 9110's order, as S3 applies it: If-Match then If-Unmodified-Since (412), If-None-Match then
 * If-Modified-Since (304). Returns 304 when the GET or HEAD should answer "not modified".
 */
export function checkConditions(call: S3Call, info: ObjectInfo, prefix = ""): 304 | undefined {
  const ifMatch = header(call, `${prefix}if-match`);
  const ifNoneMatch = header(call, `${prefix}if-none-match`);
  const unmodifiedSince = httpDate(header(call, `${prefix}if-unmodified-since`));
  const modifiedSince = httpDate(header(call, `${prefix}if-modified-since`));
  const modified = Math.floor(info.modifiedMs / 1000) * 1000;
  const failed = () =>
    s3Error(
      "PreconditionFailed",
      "At least one of the pre-conditions you specified did not hold",
      "DFS_ERR_BAD_REQUEST",
    );
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, info.etag)) throw failed();
  } else if (unmodifiedSince !== undefined && modified > unmodifiedSince) throw failed();
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, info.etag)) {
      if (prefix !== "") throw failed();
      return 304;
    }
  } else if (modifiedSince !== undefined && modified <= modifiedSince) {
    if (prefix !== "") throw failed();
    return 304;
  }
  return undefined;
}

/** x-amz-copy-source: "bucket/key" or "/bucket/key", percent-encoded, maybe with ?versionId=null. */
export function copySource(value: string): { bucket: string; key: string } {
  let v = value;
  const q = v.indexOf("?");
  if (q >= 0) {
    const version = new URLSearchParams(v.slice(q + 1)).get("versionId");
    if (version !== null && version !== "null") {
      throw s3Error("NotImplemented", "this store keeps no versions: only versionId=null can be copied");
    }
    v = v.slice(0, q);
  }
  const decoded = percentDecode(v.startsWith("/") ? v.slice(1) : v);
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3Error("InvalidArgument", "x-amz-copy-source must be bucket/key");
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}
