/** Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads. */
import { uploadsCursor } from "../names/index.ts";
import { requireAccess } from "./auth.ts";
import { body, header, type S3Call, sendEmpty, sendXml, xmlRequest } from "./call.ts";
import { s3Error } from "./errors-xml.ts";
import { copySource, objectMeta, parseRange, quoted } from "./object-headers.ts";
import { checkKey, checksumHeaders } from "./objects.ts";
import { isoTime, xmlDocument } from "./xml.ts";

const MAX_PART_NUMBER = 10_000;
const MAX_PART_BYTES = 5 * 1024 ** 3;

function partNumber(call: S3Call): number {
  const raw = call.query.get("partNumber") ?? "";
  const n = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || n < 1 || n > MAX_PART_NUMBER) {
    throw s3Error(
      "InvalidArgument",
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
    );
  }
  return n;
}

const uploadId = (call: S3Call): string => call.query.get("uploadId") ?? "";

export async function createUpload(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  checkKey(key);
  const upload = await call.deps.names.createUpload(bucket, key, objectMeta(call));
  sendXml(
    call,
    200,
    xmlDocument("InitiateMultipartUploadResult", [
      ["Bucket", bucket],
      ["Key", key],
      ["UploadId", upload.uploadId],
    ]),
  );
}

export async function uploadPart(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  const n = partNumber(call);
  let release: () => void;
  try {
    release = call.deps.slots.acquire();
  } catch (err) {
    call.deps.onGuarded("transfers");
    throw err;
  }
  try {
    const checked = body(call, Math.min(MAX_PART_BYTES, call.deps.maxUploadBytes), true);
    const result = await call.deps.names.putPart(bucket, key, uploadId(call), n, {
      body: checked.body,
      signal: call.signal,
      expectSha256: checked.expectSha256,
    });
    sendEmpty(call, 200, { etag: quoted(result.part.etag), ...checksumHeaders(checked.verified) });
  } finally {
    release();
  }
}

export async function uploadPartCopy(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  const n = partNumber(call);
  const from = copySource(header(call, "x-amz-copy-source")!);
  requireAccess(call.principal, from.bucket, "read");
  const rangeHeader = header(call, "x-amz-copy-source-range");
  let range: { start: number; end: number } | undefined;
  if (rangeHeader !== undefined) {
    const source = await call.deps.names.headObject(from.bucket, from.key);
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
    if (!m || Number(m[2]) < Number(m[1])) {
      throw s3Error("InvalidArgument", "x-amz-copy-source-range must be bytes=first-last");
    }
    range = parseRange(rangeHeader, source.size);
    if (range === undefined || Number(m[2]) >= source.size) {
      throw s3Error("InvalidRange", "The requested range is not satisfiable", "DFS_ERR_RANGE");
    }
  }
  const part = await call.deps.names.copyPart(bucket, key, uploadId(call), n, { ...from, range });
  sendXml(
    call,
    200,
    xmlDocument("CopyPartResult", [
      ["LastModified", isoTime(part.modifiedMs)],
      ["ETag", quoted(part.etag)],
    ]),
  );
}

interface CompleteDoc {
  CompleteMultipartUpload?: { Part?: { PartNumber?: unknown; ETag?: unknown }[] };
}

export async function completeUpload(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  const parsed = (await xmlRequest<CompleteDoc>(call, ["Part"])) ?? {};
  const parts = (parsed.CompleteMultipartUpload?.Part ?? []).map((p) => ({
    partNumber: Number(p.PartNumber),
    etag: String(p.ETag ?? "")
      .trim()
      .replace(/^"|"$/g, ""),
  }));
  if (parts.length === 0 || parts.some((p) => !Number.isInteger(p.partNumber) || p.etag === "")) {
    throw s3Error("MalformedXML", "CompleteMultipartUpload needs Part elements with PartNumber and ETag");
  }
  for (let i = 1; i < parts.length; i++) {
    if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) {
      throw s3Error(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
      );
    }
  }
  const info = await call.deps.names.completeUpload(bucket, key, uploadId(call), parts);
  sendXml(
    call,
    200,
    xmlDocument("CompleteMultipartUploadResult", [
      ["Location", `/${bucket}/${key}`],
      ["Bucket", bucket],
      ["Key", key],
      ["ETag", quoted(info.etag)],
    ]),
  );
}

export async function abortUpload(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "write");
  await call.deps.names.abortUpload(bucket, key, uploadId(call));
  sendEmpty(call, 204);
}

function limit(call: S3Call, name: string): number {
  const raw = call.query.get(name) ?? "1000";
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw s3Error("InvalidArgument", `${name} must be a positive whole number`);
  return Math.min(1000, Number(raw));
}

export async function listParts(call: S3Call, bucket: string, key: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  const marker = call.query.get("part-number-marker");
  const max = limit(call, "max-parts");
  const after = marker === undefined || marker === "" ? undefined : Number(marker);
  if (after !== undefined && !Number.isInteger(after))
    throw s3Error("InvalidArgument", "part-number-marker must be a number");
  const result = await call.deps.names.listParts(bucket, key, uploadId(call), { after, limit: max });
  sendXml(
    call,
    200,
    xmlDocument("ListPartsResult", [
      ["Bucket", bucket],
      ["Key", key],
      ["UploadId", uploadId(call)],
      ["PartNumberMarker", after ?? 0],
      result.truncated && result.next !== undefined ? ["NextPartNumberMarker", result.next] : undefined,
      ["MaxParts", max],
      ["IsTruncated", result.truncated],
      ["StorageClass", "STANDARD"],
      ...result.parts.map(
        (p) =>
          [
            "Part",
            [
              ["PartNumber", p.partNumber],
              ["LastModified", isoTime(p.modifiedMs)],
              ["ETag", quoted(p.etag)],
              ["Size", p.size],
            ],
          ] as [string, [string, string | number][]],
      ),
    ]),
  );
}

export async function listUploads(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  const max = limit(call, "max-uploads");
  const prefix = call.query.get("prefix") || undefined;
  const keyMarker = call.query.get("key-marker") || undefined;
  const idMarker = call.query.get("upload-id-marker") || undefined;
  const after = keyMarker === undefined ? undefined : uploadsCursor(keyMarker, idMarker);
  const result = await call.deps.names.listUploads(bucket, { prefix, after, limit: max });
  const last = result.uploads.at(-1);
  sendXml(
    call,
    200,
    xmlDocument("ListMultipartUploadsResult", [
      ["Bucket", bucket],
      ["KeyMarker", keyMarker ?? ""],
      ["UploadIdMarker", call.query.get("upload-id-marker") ?? ""],
      ...(result.truncated && last !== undefined
        ? ([
            ["NextKeyMarker", last.key],
            ["NextUploadIdMarker", last.uploadId],
          ] as [string, string][])
        : []),
      ["Prefix", prefix ?? ""],
      ["MaxUploads", max],
      ["IsTruncated", result.truncated],
      ...result.uploads.map(
        (u) =>
          [
            "Upload",
            [
              ["Key", u.key],
              ["UploadId", u.uploadId],
              [
                "Initiator",
                [
                  ["ID", "dfs-mesh"],
                  ["DisplayName", "dfs-mesh"],
                ],
              ],
              [
                "Owner",
                [
                  ["ID", "dfs-mesh"],
                  ["DisplayName", "dfs-mesh"],
                ],
              ],
              ["StorageClass", "STANDARD"],
              ["Initiated", isoTime(u.initiatedMs)],
            ],
          ] as [string, [string, string | [string, string][]][]],
      ),
    ]),
  );
}
