import { DfsError } from "../errors.ts";
import type { ObjectHeaders } from "./types.ts";

/**
 * The naming service's tables and their record values. Each value starts with a format byte (1),
 * then fixed-size binary fields (big-endian), then, where there is one, the headers and user
 * metadata as JSON: decoding a listing page stays cheap, and a new format byte can add fields.
 * - buckets: partition key "b" (one partition), sort key = the bucket name; value: createdMs.
 * - objects: partition key = the bucket name, sort key = the key's UTF-8 bytes.
 * - uploads: partition key = the bucket name, sort key = the upload id (16 bytes).
 * - upload_parts: partition key = the upload id (16 bytes), sort key = the part number (u16).
 */
export const BUCKETS_TABLE = "buckets";
export const OBJECTS_TABLE = "objects";
export const UPLOADS_TABLE = "uploads";
export const PARTS_TABLE = "upload_parts";
export const BUCKETS_PARTITION = Buffer.from("b");

const FORMAT = 1;

function corrupt(what: string): DfsError {
  return new DfsError("DFS_ERR_CORRUPT", `a ${what} record is not in a known format`);
}

export function encodeBucket(createdMs: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = FORMAT;
  b.writeDoubleBE(createdMs, 1);
  return b;
}

export function decodeBucket(value: Buffer): { createdMs: number } {
  if (value.length !== 9 || value[0] !== FORMAT) throw corrupt("bucket");
  return { createdMs: value.readDoubleBE(1) };
}

/** A key's current version: its file, what was said of it, and the holder id it holds the file under. */
export interface ObjectRecord {
  sha256: string;
  size: number;
  /** MD5 of the bytes, or of the parts' MD5s for a multipart upload. */
  md5: Buffer;
  /** 0 for a single PUT. */
  parts: number;
  modifiedMs: number;
  holder: Buffer;
  headers: ObjectHeaders;
  userMeta: Record<string, string>;
}

// format, sha256, size, md5, parts, modifiedMs, holder
const OBJECT_FIXED = 1 + 32 + 8 + 16 + 2 + 8 + 33;

export function encodeObject(o: ObjectRecord): Buffer {
  const meta = Buffer.from(JSON.stringify({ h: o.headers, m: o.userMeta }), "utf8");
  const b = Buffer.allocUnsafe(OBJECT_FIXED + meta.length);
  let at = b.writeUInt8(FORMAT, 0);
  at += b.write(o.sha256, at, "hex");
  at = b.writeDoubleBE(o.size, at);
  at += o.md5.copy(b, at);
  at = b.writeUInt16BE(o.parts, at);
  at = b.writeDoubleBE(o.modifiedMs, at);
  at += o.holder.copy(b, at);
  meta.copy(b, at);
  return b;
}

export function decodeObject(value: Buffer): ObjectRecord {
  if (value.length < OBJECT_FIXED || value[0] !== FORMAT) throw corrupt("key");
  const meta = JSON.parse(value.toString("utf8", OBJECT_FIXED)) as {
    h: ObjectHeaders;
    m: Record<string, string>;
  };
  return {
    sha256: value.toString("hex", 1, 33),
    size: value.readDoubleBE(33),
    md5: Buffer.from(value.subarray(41, 57)),
    parts: value.readUInt16BE(57),
    modifiedMs: value.readDoubleBE(59),
    holder: Buffer.from(value.subarray(67, 100)),
    headers: meta.h,
    userMeta: meta.m,
  };
}

export interface UploadRecord {
  key: string;
  initiatedMs: number;
  headers: ObjectHeaders;
  userMeta: Record<string, string>;
}

export function encodeUpload(u: UploadRecord): Buffer {
  const body = Buffer.from(JSON.stringify({ k: u.key, h: u.headers, m: u.userMeta }), "utf8");
  const b = Buffer.allocUnsafe(9 + body.length);
  b[0] = FORMAT;
  b.writeDoubleBE(u.initiatedMs, 1);
  body.copy(b, 9);
  return b;
}

export function decodeUpload(value: Buffer): UploadRecord {
  if (value.length < 9 || value[0] !== FORMAT) throw corrupt("multipart upload");
  const body = JSON.parse(value.toString("utf8", 9)) as {
    k: string;
    h: ObjectHeaders;
    m: Record<string, string>;
  };
  return { key: body.k, initiatedMs: value.readDoubleBE(1), headers: body.h, userMeta: body.m };
}

export interface PartRecord {
  sha256: string;
  size: number;
  md5: Buffer;
  modifiedMs: number;
  holder: Buffer;
}

const PART_BYTES = 1 + 32 + 8 + 16 + 8 + 33;

export function encodePart(p: PartRecord): Buffer {
  const b = Buffer.allocUnsafe(PART_BYTES);
  let at = b.writeUInt8(FORMAT, 0);
  at += b.write(p.sha256, at, "hex");
  at = b.writeDoubleBE(p.size, at);
  at += p.md5.copy(b, at);
  at = b.writeDoubleBE(p.modifiedMs, at);
  p.holder.copy(b, at);
  return b;
}

export function decodePart(value: Buffer): PartRecord {
  if (value.length !== PART_BYTES || value[0] !== FORMAT) throw corrupt("part");
  return {
    sha256: value.toString("hex", 1, 33),
    size: value.readDoubleBE(33),
    md5: Buffer.from(value.subarray(41, 57)),
    modifiedMs: value.readDoubleBE(57),
    holder: Buffer.from(value.subarray(65, 98)),
  };
}

export function partKey(partNumber: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(partNumber);
  return b;
}
