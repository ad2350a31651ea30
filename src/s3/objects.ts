/** Object calls: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject. */
import { DfsError, isDfsError } from "../errors.ts";
import { requireAccess } from "./auth.ts";
import {
  body,
  type Headers,
  header,
  type S3Call,
  sendEmpty,
  sendStream,
  sendXml,
  xmlRequest,
} from "./call.ts";
import { s3CodeOf, s3Error } from "./errors-xml.ts";
import {
  checkConditions,
  copySource,
  objectHeaders,
  objectMeta,
  parseRange,
  quoted,
} from "./object-headers.ts";
import { isoTime, type XmlNode, xmlDocument } from "./xml.ts";

export const MAX_KEY_BYTES = 1024;

export function checkKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw s3Error("KeyTooLongError", "Your key is too long");
}

/** Conditional writes are not built: refused rather than ignored. */
function refuseConditionalWrite(call: S3Call): void {
  if (header(call, "if-match") !== undefined || header(call, "if-none-match") !== undefined) {
    throw s3Error("NotImplemented", "conditional writes (If-Match / If-None-Match on PUT) are not supported");
  }
}

export function checksumHeaders(verified: Partial<Record<string, string>>): Headers {
  const h: Headers = {};
  for (const [name, value] of Object.entries(verified))
    if (value !== undefined) h[`x-amz-checksum-${name}`] = value;
  return h;
}

export async function putObject(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  checkKey(key);
  refuseConditionalWrite(call);
  const meta = objectMeta(call);
  const release = takeSlot(call);
  try {
    const checked = body(call, call.deps.maxUploadBytes, true);
    const result = await call.deps.names.putObject(bucket, key, {
      ...meta,
      body: checked.body,
      signal: call.signal,
      expectSha256: checked.expectSha256,
    });
    sendEmpty(call, 200, { etag: quoted(result.info.etag), ...checksumHeaders(checked.verified) });
  } finally {
    release();
  }
}

function takeSlot(call: S3Call): () => void {
  try {
    return call.deps.slots.acquire();
  } catch (err) {
    call.deps.onGuarded("transfers");
    throw err;
  }
}

export async function getObject(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  if (call.query.has("partNumber"))
    throw s3Error("NotImplemented", "GET and HEAD by partNumber are not supported");
  const info = await call.deps.names.headObject(bucket, key);
  const headers = objectHeaders(info);
  if (checkConditions(call, info) === 304) {
    sendEmpty(call, 304, { etag: headers.etag!, "last-modified": headers["last-modified"]! });
    return;
  }
  const range = parseRange(header(call, "range"), info.size);
  const status = range === undefined ? 200 : 206;
  const span = range ?? { start: 0, end: info.size - 1 };
  headers["content-length"] = Math.max(0, span.end - span.start + 1);
  if (range !== undefined) headers["content-range"] = `bytes ${range.start}-${range.end}/${info.size}`;
  if (call.method === "HEAD" || info.size === 0) {
    sendEmpty(call, status, headers);
    return;
  }
  const release = takeSlot(call);
  try {
    const pieces = await call.deps.names.readObject(info, span, call.signal);
    await sendStream(call, status, headers, pieces);
  } finally {
    release();
  }
}

export async function deleteObject(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  await call.deps.names.deleteObject(bucket, key);
  sendEmpty(call, 204);
}

interface DeleteRequest {
  Delete?: { Quiet?: unknown; Object?: { Key?: unknown; VersionId?: unknown }[] };
}

const MAX_DELETE_KEYS = 1000;

export async function deleteObjects(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  const parsed = (await xmlRequest<DeleteRequest>(call, ["Object"])) ?? {};
  const objects = parsed.Delete?.Object ?? [];
  if (parsed.Delete === undefined || objects.length === 0 || objects.length > MAX_DELETE_KEYS) {
    throw s3Error("MalformedXML", `a Delete request names 1 to ${MAX_DELETE_KEYS} objects`);
  }
  await call.deps.names.headBucket(bucket);
  const quiet = String(parsed.Delete.Quiet ?? "false").trim() === "true";
  const results: XmlNode[] = [];
  for (const o of objects) {
    const key = typeof o.Key === "string" ? o.Key : String(o.Key ?? "");
    const version = o.VersionId === undefined ? undefined : String(o.VersionId);
    try {
      if (key === "") throw s3Error("InvalidArgument", "an Object has no Key");
      if (version !== undefined && version !== "null")
        throw s3Error("NotImplemented", "this store keeps no versions");
      await call.deps.names.deleteObject(bucket, key);
      if (!quiet) results.push(["Deleted", [["Key", key]]]);
    } catch (err) {
      if (isDfsError(err) && ["DFS_ERR_INTERNAL"].includes(err.code))
        call.log.error({ err }, "delete failed");
      results.push([
        "Error",
        [
          ["Key", key],
          ["Code", s3CodeOf(err)],
          [
            "Message",
            err instanceof DfsError && s3CodeOf(err) !== "InternalError" ? err.message : "internal error",
          ],
        ],
      ]);
    }
  }
  sendXml(call, 200, xmlDocument("DeleteResult", results));
}

export async function copyObject(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  checkKey(key);
  refuseConditionalWrite(call);
  const from = copySource(header(call, "x-amz-copy-source")!);
  requireAccess(call.principal, from.bucket, "read");
  const directive = (header(call, "x-amz-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw s3Error("InvalidArgument", "x-amz-metadata-directive must be COPY or REPLACE");
  }
  if (directive === "COPY" && from.bucket === bucket && from.key === key) {
    throw s3Error(
      "InvalidRequest",
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
    );
  }
  const source = await call.deps.names.headObject(from.bucket, from.key);
  checkConditions(call, source, "x-amz-copy-source-");
  const info = await call.deps.names.copyObject(
    { ...from, conditions: { ifMatch: source.etag } },
    { bucket, key },
    directive === "REPLACE" ? objectMeta(call) : undefined,
  );
  sendXml(
    call,
    200,
    xmlDocument("CopyObjectResult", [
      ["LastModified", isoTime(info.modifiedMs)],
      ["ETag", quoted(info.etag)],
    ]),
  );
}
