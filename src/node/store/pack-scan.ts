import { createHash } from "node:crypto";
import { fdatasync, fstatSync, ftruncate } from "node:fs";
import { call } from "./fsutil.ts";
import { type Pack, readAt } from "./pack-file.ts";
import {
  bodyAt,
  bodyLengthAt,
  decodeHeader,
  RECORD_MAX_BODY,
  RECORD_MAX_BYTES,
  type RecordHeader,
  recordBytes,
} from "./pack-record.ts";

export interface ScanOptions {
  fsync: boolean;
  /** Told of what the scan dropped: torn tails, unreadable records. */
  warn?(message: string, details: Record<string, unknown>): void;
}

/**
 * The recovery scan at open: reads one pack's records in order and hands each intact one to
 * `found`, with the offset of its header. Bytes that are not a record (rot, or a batch torn by a
 * crash) are skipped up to the next intact header, and reported. In the last pack, where a batch
 * may have been torn, bodies are hashed too, and a torn tail is cut off so appends follow the last
 * whole record. A record is dropped, never trusted, when it does not check. Sets `pack.end`.
 */
export async function scanPack(
  pack: Pack,
  last: boolean,
  options: ScanOptions,
  found: (header: RecordHeader, at: number) => void,
): Promise<void> {
  const fileSize = fstatSync(pack.fd).size;
  const window = Buffer.allocUnsafe(RECORD_MAX_BYTES);
  let base = 0; // the file offset of window[0]
  let filled = 0;
  let at = 0;
  let end = 0; // the end of the last whole record
  let skipFrom = -1; // where the bytes being skipped began
  const skipped: { at: number; bytes: number; found: string }[] = [];
  let what = "";
  for (;;) {
    let rel = at - base;
    if (filled - rel < recordBytes(bodyLengthAt(window.subarray(0, filled), rel))) {
      window.copy(window, 0, rel, filled);
      filled -= rel;
      base = at;
      rel = 0;
      filled += await readAt(pack.fd, window.subarray(filled), base + filled);
      if (filled === 0) break;
    }
    const header = decodeHeader(window.subarray(0, filled), rel);
    const body = bodyAt(rel);
    const whole = header !== undefined && header.length <= RECORD_MAX_BODY && body + header.length <= filled;
    if (!whole) {
      if (skipFrom < 0) {
        skipFrom = at;
        what = header === undefined ? "no intact record header" : "a record cut short";
      }
      at++;
      continue;
    }
    if (skipFrom >= 0) {
      skipped.push({ at: skipFrom, bytes: at - skipFrom, found: what });
      skipFrom = -1;
    }
    const size = recordBytes(header.length);
    if (
      last &&
      header.op === "put" &&
      !hashes(window.subarray(body, body + header.length), header.checksum)
    ) {
      skipped.push({ at, bytes: size, found: "a body that does not match its hash" });
    } else {
      found(header, at);
    }
    at += size;
    end = at;
  }
  pack.end = last ? end : fileSize;
  for (const gap of skipped)
    options.warn?.("pack bytes that are not a record were skipped", { pack: pack.path, ...gap });
  if (end === fileSize) return;
  options.warn?.("a pack ends in bytes that are not a whole record", {
    pack: pack.path,
    at: end,
    bytes: fileSize - end,
    found: what,
    cut: last,
  });
  if (last) {
    await call((cb) => ftruncate(pack.fd, end, cb));
    if (options.fsync) await call((cb) => fdatasync(pack.fd, cb));
  }
}

function hashes(body: Buffer, checksum: string): boolean {
  return createHash("sha256").update(body).digest("hex") === checksum;
}
