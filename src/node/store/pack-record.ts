import { crc32 } from "node:zlib";
import type { ObjectKind } from "../../formats/index.ts";

/**
 * One record of a pack file (pack-log.ts): a fixed header, then the body. Little-endian. Only
 * this module knows the offsets; the rest of the store goes through the functions below.
 *
 *   0  4  magic "DFSP"
 *   4  1  format version (1)
 *   5  1  op: 1 = put, 2 = remove (a removal record: no body)
 *   6  1  kind: 0 = chunk, 1 = manifest
 *   7  1  reserved, 0
 *   8  32 object id (raw)
 *  40  32 SHA-256 of the body (raw): a chunk's id, a manifest's checksum; zero in a removal record
 *  72  4  body length
 *  76  8  written at, ms since the epoch (what garbage collection's grace period counts from)
 *  84  4  CRC-32 of bytes 0..84: a torn or rotten header is found before its length is trusted
 */
export const RECORD_HEADER_BYTES = 88;

/** No record is larger: the recovery scan reads through a window of this size. */
export const RECORD_MAX_BYTES = 1024 * 1024;
export const RECORD_MAX_BODY = RECORD_MAX_BYTES - RECORD_HEADER_BYTES;

const MAGIC = 0x50534644; // "DFSP" read as a little-endian u32
const VERSION = 1;
const CHECKSUM_AT = 40;
const LENGTH_AT = 72;
const CRC_AT = 84;

export type RecordOp = "put" | "remove";

export interface RecordHeader {
  op: RecordOp;
  kind: ObjectKind;
  id: string;
  /** Hex SHA-256 the body must have (empty for a removal record). */
  checksum: string;
  length: number;
  writtenAt: number;
}

export function encodeHeader(h: RecordHeader): Buffer {
  const b = Buffer.alloc(RECORD_HEADER_BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b[4] = VERSION;
  b[5] = h.op === "put" ? 1 : 2;
  b[6] = h.kind === "chunk" ? 0 : 1;
  b.write(h.id, 8, 32, "hex");
  if (h.checksum) b.write(h.checksum, CHECKSUM_AT, 32, "hex");
  b.writeUInt32LE(h.length, LENGTH_AT);
  b.writeBigUInt64LE(BigInt(h.writtenAt), 76);
  b.writeUInt32LE(crc32(b.subarray(0, CRC_AT)), CRC_AT);
  return b;
}

/** Bytes a record with a body of `bodyLength` takes in its pack. */
export function recordBytes(bodyLength: number): number {
  return RECORD_HEADER_BYTES + bodyLength;
}

/** Where the body of the record at `recordAt` begins. */
export function bodyAt(recordAt: number): number {
  return recordAt + RECORD_HEADER_BYTES;
}

/** The body of a whole record read into memory. */
export function recordBody(record: Buffer): Buffer {
  return record.subarray(RECORD_HEADER_BYTES);
}

/** The raw checksum field of a record, even one whose header does not check (for inspection). */
export function recordChecksum(record: Buffer): Buffer {
  return record.subarray(CHECKSUM_AT, CHECKSUM_AT + 32);
}

/**
 * The body length in what may be a header at `at`, only to size a read: 0 unless the bytes start
 * like a header, at most RECORD_MAX_BODY. Not checked: decodeHeader decides.
 */
export function bodyLengthAt(b: Buffer, at: number): number {
  if (b.length - at < RECORD_HEADER_BYTES || !hasMagic(b, at)) return 0;
  return Math.min(b.readUInt32LE(at + LENGTH_AT), RECORD_MAX_BODY);
}

function hasMagic(b: Buffer, at: number): boolean {
  return b.length - at >= 4 && b.readUInt32LE(at) === MAGIC;
}

/** The header at `at`, or undefined when those bytes are not an intact header of this format. */
export function decodeHeader(b: Buffer, at = 0): RecordHeader | undefined {
  if (b.length - at < RECORD_HEADER_BYTES) return undefined;
  if (!hasMagic(b, at) || b[at + 4] !== VERSION) return undefined;
  if (b.readUInt32LE(at + CRC_AT) !== crc32(b.subarray(at, at + CRC_AT))) return undefined;
  const op = b[at + 5] === 1 ? "put" : b[at + 5] === 2 ? "remove" : undefined;
  const kind = b[at + 6] === 0 ? "chunk" : b[at + 6] === 1 ? "manifest" : undefined;
  if (op === undefined || kind === undefined) return undefined;
  const length = b.readUInt32LE(at + LENGTH_AT);
  if (op === "remove" && length !== 0) return undefined;
  return {
    op,
    kind,
    id: b.toString("hex", at + 8, at + CHECKSUM_AT),
    checksum: op === "put" ? b.toString("hex", at + CHECKSUM_AT, at + LENGTH_AT) : "",
    length,
    writtenAt: Number(b.readBigUInt64LE(at + 76)),
  };
}
