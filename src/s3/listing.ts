/** ListObjects (v1), ListObjectsV2 and ListObjectVersions (every key is its only version, "null"). */
import type { ListPage, ObjectInfo } from "../names/types.ts";
import { requireAccess } from "./auth.ts";
import { OWNER } from "./buckets.ts";
import { type S3Call, sendXml } from "./call.ts";
import { s3Error } from "./errors-xml.ts";
import { quoted } from "./object-headers.ts";
import { uriEncode } from "./sigv4.ts";
import { isoTime, type XmlNode, xmlDocument } from "./xml.ts";

/** Sorts after every key that starts with the text before it (U+10FFFF is UTF-8's highest). */
const PAST_PREFIX = "\u{10FFFF}";

interface ListParams {
  prefix: string | undefined;
  delimiter: string | undefined;
  maxKeys: number;
  encode: (s: string) => string;
  encodingType: string | undefined;
}

function params(call: S3Call): ListParams {
  const raw = call.query.get("max-keys") ?? "1000";
  if (!/^\d{1,9}$/.test(raw)) throw s3Error("InvalidArgument", "max-keys must be a whole number");
  const encodingType = call.query.get("encoding-type");
  if (encodingType !== undefined && encodingType !== "url") {
    throw s3Error("InvalidArgument", "Invalid Encoding Method specified in Request");
  }
  const delimiter = call.query.get("delimiter");
  return {
    prefix: call.query.get("prefix") || undefined,
    delimiter: delimiter === "" ? undefined : delimiter,
    maxKeys: Math.min(1000, Number(raw)),
    encodingType,
    encode: encodingType === "url" ? (s) => uriEncode(s, true) : (s) => s,
  };
}

/**
 * Where a marker leaves off: after it, and after everything it rolls up when it is a common
 * prefix, so a prefix ending a page does not come again on the next.
 */
function after(marker: string | undefined, p: ListParams): string | undefined {
  if (marker === undefined || marker === "") return undefined;
  if (p.delimiter !== undefined && marker.endsWith(p.delimiter) && marker.startsWith(p.prefix ?? "")) {
    return marker + PAST_PREFIX;
  }
  return marker;
}

async function page(
  call: S3Call,
  bucket: string,
  p: ListParams,
  startAfter: string | undefined,
  cursor?: string,
): Promise<ListPage> {
  if (p.maxKeys === 0) {
    await call.deps.names.headBucket(bucket);
    return { objects: [], commonPrefixes: [], truncated: false };
  }
  return call.deps.names.list(bucket, {
    prefix: p.prefix,
    delimiter: p.delimiter,
    startAfter,
    cursor,
    limit: p.maxKeys,
  });
}

function contents(o: ObjectInfo, p: ListParams, owner: boolean): XmlNode {
  return [
    "Contents",
    [
      ["Key", p.encode(o.key)],
      ["LastModified", isoTime(o.modifiedMs)],
      ["ETag", quoted(o.etag)],
      ["Size", o.size],
      owner ? ["Owner", OWNER] : undefined,
      ["StorageClass", "STANDARD"],
    ],
  ];
}

function common(result: ListPage, p: ListParams): XmlNode[] {
  return result.commonPrefixes.map((c) => ["CommonPrefixes", [["Prefix", p.encode(c)]]]);
}

function head(bucket: string, p: ListParams): XmlNode[] {
  return [
    ["Name", bucket],
    ["Prefix", p.encode(p.prefix ?? "")],
    p.delimiter === undefined ? undefined : ["Delimiter", p.encode(p.delimiter)],
    ["MaxKeys", p.maxKeys],
    p.encodingType === undefined ? undefined : ["EncodingType", p.encodingType],
  ];
}

export async function listObjectsV1(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  const p = params(call);
  const marker = call.query.get("marker");
  const result = await page(call, bucket, p, after(marker, p));
  sendXml(
    call,
    200,
    xmlDocument("ListBucketResult", [
      ...head(bucket, p),
      ["Marker", p.encode(marker ?? "")],
      ["IsTruncated", result.truncated],
      result.truncated && p.delimiter !== undefined && result.lastName !== undefined
        ? ["NextMarker", p.encode(result.lastName)]
        : undefined,
      ...result.objects.map((o) => contents(o, p, true)),
      ...common(result, p),
    ]),
  );
}

export async function listObjectsV2(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  const p = params(call);
  const token = call.query.get("continuation-token");
  const startAfter = call.query.get("start-after");
  if (token === "") throw s3Error("InvalidArgument", "The continuation token provided is incorrect");
  const result = await page(call, bucket, p, after(startAfter, p), token);
  sendXml(
    call,
    200,
    xmlDocument("ListBucketResult", [
      ...head(bucket, p),
      ["KeyCount", result.objects.length + result.commonPrefixes.length],
      ["IsTruncated", result.truncated],
      token === undefined ? undefined : ["ContinuationToken", token],
      result.truncated && result.next !== undefined ? ["NextContinuationToken", result.next] : undefined,
      startAfter === undefined ? undefined : ["StartAfter", p.encode(startAfter)],
      ...result.objects.map((o) => contents(o, p, call.query.get("fetch-owner") === "true")),
      ...common(result, p),
    ]),
  );
}

export async function listObjectVersions(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  const p = params(call);
  const keyMarker = call.query.get("key-marker");
  const result = await page(call, bucket, p, after(keyMarker, p));
  const versions: XmlNode[] = result.objects.map((o) => [
    "Version",
    [
      ["Key", p.encode(o.key)],
      ["VersionId", "null"],
      ["IsLatest", true],
      ["LastModified", isoTime(o.modifiedMs)],
      ["ETag", quoted(o.etag)],
      ["Size", o.size],
      ["Owner", OWNER],
      ["StorageClass", "STANDARD"],
    ],
  ]);
  sendXml(
    call,
    200,
    xmlDocument("ListVersionsResult", [
      ...head(bucket, p),
      ["KeyMarker", p.encode(keyMarker ?? "")],
      ["VersionIdMarker", call.query.get("version-id-marker") ?? ""],
      ["IsTruncated", result.truncated],
      ...(result.truncated && result.lastName !== undefined
        ? ([
            ["NextKeyMarker", p.encode(result.lastName)],
            ["NextVersionIdMarker", "null"],
          ] as XmlNode[])
        : []),
      ...versions,
      ...common(result, p),
    ]),
  );
}
