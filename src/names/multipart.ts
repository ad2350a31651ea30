import { createHash, randomBytes } from "node:crypto";
import { DfsError } from "../errors.ts";
import type { RecordWrite, TableClient } from "../tables/index.ts";
import { BodyDigests } from "./digests.ts";
import type { Files } from "./files.ts";
import { HolderKind, newHolder } from "./holders.ts";
import {
  decodePart,
  decodeUpload,
  encodePart,
  encodeUpload,
  type ObjectRecord,
  PARTS_TABLE,
  type PartRecord,
  partKey,
  UPLOADS_TABLE,
  type UploadRecord,
} from "./records.ts";
import { keyBytes } from "./rules.ts";
import type { BucketInfo, MultipartUpload, NameService, ObjectInfo, PartInfo } from "./types.ts";

export const MAX_PART_NUMBER = 10_000;

export interface MultipartDeps {
  tables: TableClient;
  files: Files;
  now: () => number;
  maxAgeMs: number;
  headBucket(name: string): Promise<BucketInfo>;
  /** After a write into a bucket: DFS_ERR_NO_SUCH_BUCKET (and `undo` run) if it was deleted meanwhile. */
  afterWriteInto(bucket: string, undo: () => Promise<void>): Promise<void>;
  /** Points a key at a held file, releasing the version it replaces. */
  point(bucket: string, key: Buffer, record: ObjectRecord): Promise<void>;
  release(sha256: string, holder: Buffer): Promise<void>;
  readObject(
    bucket: string,
    key: string,
    range: { start: number; end: number } | undefined,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Buffer>>;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** A new upload id: 6 bytes of creation time (ms) then 10 random bytes, hex. */
function newUploadId(nowMs: number): string {
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(Math.max(0, Math.floor(nowMs)), 0, 6);
  randomBytes(10).copy(b, 6);
  return b.toString("hex");
}

function uploadOf(bucket: string, uploadId: string, r: UploadRecord): MultipartUpload {
  return {
    bucket,
    key: r.key,
    uploadId,
    initiatedMs: r.initiatedMs,
    headers: r.headers,
    userMeta: r.userMeta,
  };
}

function partInfo(partNumber: number, p: PartRecord): PartInfo {
  return { partNumber, size: p.size, etag: p.md5.toString("hex"), modifiedMs: p.modifiedMs };
}

/** The (key, upload id) order of uploads: a string compared as JS compares strings. */
const orderOf = (key: string, uploadId: string) => `${key}\0${uploadId}`;

/**
 * The listUploads cursor after S3's markers: uploads of keys after `keyMarker`, or of that key
 * with an upload id after `uploadIdMarker` when one is given.
 */
export function uploadsCursor(keyMarker: string, uploadIdMarker?: string): string {
  return Buffer.from(orderOf(keyMarker, uploadIdMarker ?? "\uffff"), "utf8").toString("base64url");
}

const unquote = (etag: string) => etag.trim().replace(/^"|"$/g, "").toLowerCase();

/**
 * Multipart uploads. An upload is a record in "uploads" (partition = bucket); each part is a file
 * of its own (stored chunked, never inline), held by the part's holder and recorded in
 * "upload_parts" (partition = upload id). Completing joins the parts' chunk lists into one file
 * (no data copied), points the key at it, then removes the upload and releases its parts, whose
 * chunks the new file's references now hold. An upload older than maxAgeMs is removed by sweep().
 */
export class Multipart {
  readonly #d: MultipartDeps;

  constructor(deps: MultipartDeps) {
    this.#d = deps;
  }

  createUpload: NameService["createUpload"] = async (bucket, key, meta) => {
    keyBytes(key);
    await this.#d.headBucket(bucket);
    const initiatedMs = this.#d.now();
    const uploadId = newUploadId(initiatedMs);
    const record: UploadRecord = { key, initiatedMs, headers: meta.headers, userMeta: meta.userMeta };
    await this.#d.tables.write([
      {
        table: UPLOADS_TABLE,
        partitionKey: Buffer.from(bucket, "utf8"),
        sortKey: Buffer.from(uploadId, "hex"),
        value: encodeUpload(record),
      },
    ]);
    await this.#d.afterWriteInto(bucket, () => this.#remove(bucket, uploadId));
    return uploadOf(bucket, uploadId, record);
  };

  putPart: NameService["putPart"] = async (bucket, key, uploadId, partNumber, input) => {
    checkPartNumber(partNumber);
    const upload = await this.#upload(bucket, key, uploadId);
    const digests = new BodyDigests(input.expectMd5);
    const holder = newHolder(HolderKind.PART);
    const stored = await this.#d.files.store(digests.wrap(input.body), holder, {
      contentType: "application/octet-stream",
      name: `part-${partNumber}`,
      signal: input.signal,
      chunked: true,
      expectSha256: input.expectSha256,
    });
    const record: PartRecord = {
      sha256: stored.sha256,
      size: stored.size,
      md5: digests.md5(),
      modifiedMs: this.#d.now(),
      holder,
    };
    const partition = Buffer.from(uploadId, "hex");
    const old = await this.#d.tables.read(PARTS_TABLE, partition, partKey(partNumber));
    await this.#d.tables.write([
      {
        table: PARTS_TABLE,
        partitionKey: partition,
        sortKey: partKey(partNumber),
        value: encodePart(record),
      },
    ]);
    if (old !== undefined) {
      const was = decodePart(old.value);
      if (!was.holder.equals(holder)) await this.#d.release(was.sha256, was.holder);
    }
    // An abort or completion that ran meanwhile did not see this part: release it here.
    if ((await this.#readUpload(bucket, uploadId)) === undefined) {
      await this.#dropParts(partition);
      throw new DfsError("DFS_ERR_NO_SUCH_UPLOAD", `no upload ${uploadId}`);
    }
    const info: ObjectInfo = {
      bucket,
      key,
      sha256: stored.sha256,
      size: stored.size,
      etag: record.md5.toString("hex"),
      modifiedMs: record.modifiedMs,
      headers: upload.headers,
      userMeta: upload.userMeta,
    };
    return { info, part: partInfo(partNumber, record) };
  };

  copyPart: NameService["copyPart"] = async (bucket, key, uploadId, partNumber, from) => {
    checkPartNumber(partNumber);
    await this.#upload(bucket, key, uploadId);
    const signal = new AbortController().signal;
    const body = await this.#d.readObject(from.bucket, from.key, from.range, signal);
    const { part } = await this.putPart(bucket, key, uploadId, partNumber, { body, signal });
    return part;
  };

  completeUpload: NameService["completeUpload"] = async (bucket, key, uploadId, parts) => {
    const kb = keyBytes(key);
    const upload = await this.#upload(bucket, key, uploadId);
    if (parts.length === 0)
      throw new DfsError("DFS_ERR_INVALID_PART", "a completion names at least one part");
    const partition = Buffer.from(uploadId, "hex");
    const stored = new Map((await this.#allParts(partition)).map((p) => [p.partNumber, p.record]));
    const chosen: PartRecord[] = [];
    let previous = 0;
    for (const p of parts) {
      if (p.partNumber <= previous)
        throw new DfsError("DFS_ERR_INVALID_PART", "parts are listed in ascending order, once each");
      previous = p.partNumber;
      const record = stored.get(p.partNumber);
      if (record === undefined || record.md5.toString("hex") !== unquote(p.etag)) {
        throw new DfsError(
          "DFS_ERR_INVALID_PART",
          `part ${p.partNumber} was not uploaded with ETag ${p.etag}`,
        );
      }
      chosen.push(record);
    }
    const md5 = createHash("md5");
    for (const r of chosen) md5.update(r.md5);
    const holder = newHolder(HolderKind.KEY);
    const file = await this.#d.files.join(
      chosen.map((r) => r.sha256),
      holder,
      {
        contentType: upload.headers.contentType,
        name: key.slice(key.lastIndexOf("/") + 1).slice(0, 255) || "file",
        signal: new AbortController().signal,
      },
    );
    const record: ObjectRecord = {
      sha256: file.sha256,
      size: file.size,
      md5: md5.digest(),
      parts: chosen.length,
      modifiedMs: this.#d.now(),
      holder,
      headers: upload.headers,
      userMeta: upload.userMeta,
    };
    await this.#d.point(bucket, kb, record);
    await this.#remove(bucket, uploadId);
    return {
      bucket,
      key,
      sha256: record.sha256,
      size: record.size,
      etag: `${record.md5.toString("hex")}-${record.parts}`,
      modifiedMs: record.modifiedMs,
      headers: record.headers,
      userMeta: record.userMeta,
      parts: record.parts,
    };
  };

  abortUpload: NameService["abortUpload"] = async (bucket, key, uploadId) => {
    await this.#upload(bucket, key, uploadId);
    await this.#remove(bucket, uploadId);
  };

  listParts: NameService["listParts"] = async (bucket, key, uploadId, options) => {
    const upload = await this.#upload(bucket, key, uploadId);
    const after =
      options.after === undefined || options.after < 1
        ? undefined
        : partKey(Math.min(options.after, MAX_PART_NUMBER));
    const page = await this.#d.tables.range(PARTS_TABLE, Buffer.from(uploadId, "hex"), {
      after,
      limit: Math.max(1, Math.min(1000, options.limit)),
    });
    const parts = page.records.map((r) => partInfo(r.sortKey.readUInt16BE(0), decodePart(r.value)));
    const truncated = page.next !== undefined;
    return {
      upload: uploadOf(bucket, uploadId, upload),
      parts,
      truncated,
      next: truncated ? parts.at(-1)?.partNumber : undefined,
    };
  };

  /** `after` is a `next` of an earlier page (base64url of the last key, a zero byte, its upload id) or uploadsCursor(). */
  listUploads: NameService["listUploads"] = async (bucket, options) => {
    await this.#d.headBucket(bucket);
    const all: MultipartUpload[] = [];
    let after: Buffer | undefined;
    do {
      const page = await this.#d.tables.range(UPLOADS_TABLE, Buffer.from(bucket, "utf8"), {
        after,
        limit: 1000,
      });
      for (const r of page.records)
        all.push(uploadOf(bucket, r.sortKey.toString("hex"), decodeUpload(r.value)));
      after = page.next;
    } while (after !== undefined);
    // S3 orders keys by their UTF-8 bytes (as the objects table does), not by UTF-16 code units.
    const order = (u: MultipartUpload) => Buffer.from(orderOf(u.key, u.uploadId), "utf8");
    const start = options.after === undefined ? Buffer.alloc(0) : Buffer.from(options.after, "base64url");
    const matching = all
      .filter((u) => u.key.startsWith(options.prefix ?? ""))
      .map((u) => ({ u, at: order(u) }))
      .filter((e) => Buffer.compare(e.at, start) > 0)
      .sort((a, b) => Buffer.compare(a.at, b.at))
      .map((e) => e.u);
    const limit = Math.max(1, Math.min(1000, options.limit));
    const uploads = matching.slice(0, limit);
    const truncated = matching.length > limit;
    const last = uploads.at(-1);
    return {
      uploads,
      truncated,
      next: truncated && last ? order(last).toString("base64url") : undefined,
    };
  };

  /** Removes every upload initiated more than maxAgeMs ago, in every bucket; returns how many. */
  async sweep(listBuckets: () => Promise<BucketInfo[]>): Promise<number> {
    const cutoff = this.#d.now() - this.#d.maxAgeMs;
    let removed = 0;
    for (const bucket of await listBuckets()) {
      let after: Buffer | undefined;
      do {
        const page = await this.#d.tables.range(UPLOADS_TABLE, Buffer.from(bucket.name, "utf8"), {
          after,
          limit: 1000,
        });
        for (const r of page.records) {
          if (decodeUpload(r.value).initiatedMs >= cutoff) continue;
          await this.#remove(bucket.name, r.sortKey.toString("hex"));
          removed++;
        }
        after = page.next;
      } while (after !== undefined);
    }
    return removed;
  }

  async #readUpload(bucket: string, uploadId: string): Promise<UploadRecord | undefined> {
    const r = await this.#d.tables.read(
      UPLOADS_TABLE,
      Buffer.from(bucket, "utf8"),
      Buffer.from(uploadId, "hex"),
    );
    return r === undefined ? undefined : decodeUpload(r.value);
  }

  async #upload(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    keyBytes(key);
    if (!UPLOAD_ID.test(uploadId)) throw new DfsError("DFS_ERR_NO_SUCH_UPLOAD", "not an upload id");
    const r = await this.#readUpload(bucket, uploadId);
    if (r === undefined || r.key !== key) {
      await this.#d.headBucket(bucket);
      throw new DfsError("DFS_ERR_NO_SUCH_UPLOAD", `no upload ${uploadId} of key ${key}`);
    }
    return r;
  }

  async #allParts(partition: Buffer): Promise<{ partNumber: number; record: PartRecord }[]> {
    const out: { partNumber: number; record: PartRecord }[] = [];
    let after: Buffer | undefined;
    do {
      const page = await this.#d.tables.range(PARTS_TABLE, partition, { after, limit: 1000 });
      for (const r of page.records)
        out.push({ partNumber: r.sortKey.readUInt16BE(0), record: decodePart(r.value) });
      after = page.next;
    } while (after !== undefined);
    return out;
  }

  /** The upload's record deleted first (no new part joins it), then its parts released and deleted. */
  async #remove(bucket: string, uploadId: string): Promise<void> {
    await this.#d.tables.write([
      {
        table: UPLOADS_TABLE,
        partitionKey: Buffer.from(bucket, "utf8"),
        sortKey: Buffer.from(uploadId, "hex"),
        deleted: true,
      },
    ]);
    await this.#dropParts(Buffer.from(uploadId, "hex"));
  }

  async #dropParts(partition: Buffer): Promise<void> {
    const parts = await this.#allParts(partition);
    for (const p of parts) await this.#d.release(p.record.sha256, p.record.holder);
    const deletions = parts.map(
      (p): RecordWrite => ({
        table: PARTS_TABLE,
        partitionKey: partition,
        sortKey: partKey(p.partNumber),
        deleted: true,
      }),
    );
    if (deletions.length > 0) await this.#d.tables.write(deletions);
  }
}

function checkPartNumber(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", `a part number is 1..${MAX_PART_NUMBER}`);
  }
}
