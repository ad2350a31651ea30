import { DfsError, isDfsError, toDfsError } from "../errors.ts";
import type { TableRecord } from "../formats/index.ts";
import type { TableClient } from "../tables/index.ts";
import { checkConditions } from "./conditions.ts";
import { BodyDigests } from "./digests.ts";
import type { Files } from "./files.ts";
import { HolderKind, newHolder } from "./holders.ts";
import { listKeys } from "./listing.ts";
import { Multipart } from "./multipart.ts";
import {
  BUCKETS_PARTITION,
  BUCKETS_TABLE,
  decodeBucket,
  decodeObject,
  encodeBucket,
  encodeObject,
  OBJECTS_TABLE,
  type ObjectRecord,
  UPLOADS_TABLE,
} from "./records.ts";
import { checkBucketName, keyBytes } from "./rules.ts";
import type {
  BucketInfo,
  Conditions,
  ListOptions,
  ListPage,
  NameService,
  ObjectHeaders,
  ObjectInfo,
  PutObjectInput,
  PutObjectResult,
} from "./types.ts";

export interface NameServiceOptions {
  tables: TableClient;
  files: Files;
  /** How long an unfinished multipart upload lives before a sweep removes it. */
  multipartMaxAgeMs: number;
  /** The clock (ms): upload ids, modification times, the sweep's notion of age. */
  now?: () => number;
  /** Told of a release that failed after its answer was decided (the file stays: a leak, not a loss). */
  onReleaseError?: (err: DfsError, sha256: string) => void;
}

/** User metadata limit: names and values together, as S3 allows. */
const MAX_USER_META_BYTES = 2048;
const MAX_HEADER_CHARS = 1024;

export function checkMeta(headers: ObjectHeaders, userMeta: Record<string, string>): void {
  let total = 0;
  for (const [k, v] of Object.entries(userMeta)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (total > MAX_USER_META_BYTES) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", `user metadata is limited to ${MAX_USER_META_BYTES} bytes`);
  }
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === "string" && v.length > MAX_HEADER_CHARS) {
      throw new DfsError(
        "DFS_ERR_BAD_REQUEST",
        `the ${k} header is limited to ${MAX_HEADER_CHARS} characters`,
      );
    }
  }
}

export function etagOf(md5: Buffer, parts: number): string {
  return parts > 0 ? `${md5.toString("hex")}-${parts}` : md5.toString("hex");
}

export function objectInfo(bucket: string, key: string, r: ObjectRecord): ObjectInfo {
  const info: ObjectInfo = {
    bucket,
    key,
    sha256: r.sha256,
    size: r.size,
    etag: etagOf(r.md5, r.parts),
    modifiedMs: r.modifiedMs,
    headers: r.headers,
    userMeta: r.userMeta,
  };
  if (r.parts > 0) info.parts = r.parts;
  return info;
}

/** The last segment of a key, for the name a new file's manifest keeps (downloads by hash show it). */
export function fileNameOf(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1).slice(0, 255) || "file";
}

/**
 * Buckets and keys over the tables (records.ts), files through `Files`. A key's record is written
 * only once its file is stored and held, so a failed PUT leaves the current version readable;
 * the version it replaced is then released (its holder retracted; the file deleted when nothing
 * else holds it).
 */
export class Names implements NameService {
  readonly #o: NameServiceOptions;
  readonly #now: () => number;
  readonly #multipart: Multipart;

  constructor(options: NameServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#multipart = new Multipart({
      tables: options.tables,
      files: options.files,
      now: this.#now,
      maxAgeMs: options.multipartMaxAgeMs,
      headBucket: (name) => this.headBucket(name),
      afterWriteInto: (bucket, undo) => this.#afterWriteInto(bucket, undo),
      point: (bucket, key, record) => this.#point(bucket, key, record),
      release: (sha256, holder) => this.#release(sha256, holder),
      readObject: async (bucket, key, range, signal) => {
        const info = await this.headObject(bucket, key);
        const r = range ?? { start: 0, end: info.size - 1 };
        if (r.start < 0 || r.end >= info.size || r.end < r.start - 1) {
          throw new DfsError("DFS_ERR_RANGE", `the source has ${info.size} bytes`, {
            details: { size: info.size },
          });
        }
        return r.end < r.start ? emptyBody() : this.#o.files.read(info.sha256, r, signal);
      },
    });
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const out: BucketInfo[] = [];
    let after: Buffer | undefined;
    do {
      const page = await this.#o.tables.range(BUCKETS_TABLE, BUCKETS_PARTITION, { after, limit: 1000 });
      for (const r of page.records) out.push({ name: r.sortKey.toString("utf8"), ...decodeBucket(r.value) });
      after = page.next;
    } while (after !== undefined);
    return out;
  }

  async createBucket(name: string): Promise<BucketInfo> {
    checkBucketName(name);
    const key = Buffer.from(name, "utf8");
    const existing = await this.#o.tables.read(BUCKETS_TABLE, BUCKETS_PARTITION, key);
    if (existing !== undefined) throw new DfsError("DFS_ERR_BUCKET_EXISTS", `bucket ${name} exists`);
    const createdMs = this.#now();
    await this.#o.tables.write([
      { table: BUCKETS_TABLE, partitionKey: BUCKETS_PARTITION, sortKey: key, value: encodeBucket(createdMs) },
    ]);
    return { name, createdMs };
  }

  async headBucket(name: string): Promise<BucketInfo> {
    checkBucketName(name);
    const r = await this.#o.tables.read(BUCKETS_TABLE, BUCKETS_PARTITION, Buffer.from(name, "utf8"));
    if (r === undefined) throw new DfsError("DFS_ERR_NO_SUCH_BUCKET", `no bucket ${name}`);
    return { name, ...decodeBucket(r.value) };
  }

  /**
   * Deletes the bucket when it holds nothing, then looks again: a key or upload written meanwhile
   * (its writer checked the bucket before the deletion) brings the bucket back, and the delete
   * fails. Writers look at the bucket again after their write (#point, createUpload), so one side
   * always sees the other.
   */
  async deleteBucket(name: string): Promise<void> {
    const info = await this.headBucket(name);
    const partition = Buffer.from(name, "utf8");
    const notEmpty = () =>
      new DfsError("DFS_ERR_BUCKET_NOT_EMPTY", `bucket ${name} holds keys or unfinished uploads`);
    if (await this.#holdsAnything(partition)) throw notEmpty();
    await this.#o.tables.write([
      { table: BUCKETS_TABLE, partitionKey: BUCKETS_PARTITION, sortKey: partition, deleted: true },
    ]);
    if (await this.#holdsAnything(partition)) {
      await this.#o.tables.write([
        {
          table: BUCKETS_TABLE,
          partitionKey: BUCKETS_PARTITION,
          sortKey: partition,
          value: encodeBucket(info.createdMs),
        },
      ]);
      throw notEmpty();
    }
  }

  async #holdsAnything(partition: Buffer): Promise<boolean> {
    const [keys, uploads] = await Promise.all([
      this.#o.tables.range(OBJECTS_TABLE, partition, { limit: 1 }),
      this.#o.tables.range(UPLOADS_TABLE, partition, { limit: 1 }),
    ]);
    return keys.records.length > 0 || uploads.records.length > 0;
  }

  /** After a write into a bucket: DFS_ERR_NO_SUCH_BUCKET (and `undo` run) if the bucket was deleted meanwhile. */
  async #afterWriteInto(bucket: string, undo: () => Promise<void>): Promise<void> {
    const r = await this.#o.tables.read(BUCKETS_TABLE, BUCKETS_PARTITION, Buffer.from(bucket, "utf8"));
    if (r !== undefined) return;
    await undo();
    throw new DfsError("DFS_ERR_NO_SUCH_BUCKET", `no bucket ${bucket}`);
  }

  async putObject(bucket: string, key: string, input: PutObjectInput): Promise<PutObjectResult> {
    const kb = keyBytes(key);
    checkMeta(input.headers, input.userMeta);
    await this.headBucket(bucket);
    const digests = new BodyDigests(input.expectMd5);
    const holder = newHolder(HolderKind.KEY);
    const stored = await this.#o.files.store(digests.wrap(input.body), holder, {
      contentType: input.headers.contentType,
      name: fileNameOf(key),
      signal: input.signal,
      expectSha256: input.expectSha256,
    });
    const record: ObjectRecord = {
      sha256: stored.sha256,
      size: stored.size,
      md5: digests.md5(),
      parts: 0,
      modifiedMs: this.#now(),
      holder,
      headers: input.headers,
      userMeta: input.userMeta,
    };
    await this.#point(bucket, kb, record);
    return { info: objectInfo(bucket, key, record) };
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo> {
    const kb = keyBytes(key);
    checkBucketName(bucket);
    const r = await this.#o.tables.read(OBJECTS_TABLE, Buffer.from(bucket, "utf8"), kb);
    if (r === undefined) {
      await this.headBucket(bucket); // NO_SUCH_BUCKET when that is why
      throw new DfsError("DFS_ERR_NO_SUCH_KEY", `no key ${key} in bucket ${bucket}`);
    }
    return objectInfo(bucket, key, decodeObject(r.value));
  }

  async readObject(
    info: ObjectInfo,
    range: { start: number; end: number },
    signal: AbortSignal,
  ): Promise<AsyncIterable<Buffer>> {
    if (info.size === 0 || range.end < range.start) return emptyBody();
    try {
      return await this.#o.files.read(info.sha256, range, signal);
    } catch (err) {
      // The key was overwritten or deleted, and its file released, since `info` was read.
      if (isDfsError(err, "DFS_ERR_NOT_FOUND")) {
        throw new DfsError("DFS_ERR_NO_SUCH_KEY", `no key ${info.key} in bucket ${info.bucket}`);
      }
      throw err;
    }
  }

  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const kb = keyBytes(key);
    checkBucketName(bucket);
    const partition = Buffer.from(bucket, "utf8");
    const old = await this.#o.tables.read(OBJECTS_TABLE, partition, kb);
    if (old === undefined) {
      await this.headBucket(bucket);
      return false;
    }
    await this.#o.tables.write([
      { table: OBJECTS_TABLE, partitionKey: partition, sortKey: kb, deleted: true },
    ]);
    const was = decodeObject(old.value);
    await this.#release(was.sha256, was.holder);
    return true;
  }

  async copyObject(
    from: { bucket: string; key: string; conditions?: Conditions | undefined },
    to: { bucket: string; key: string },
    replace?: { headers: ObjectHeaders; userMeta: Record<string, string> },
  ): Promise<ObjectInfo> {
    const kb = keyBytes(to.key);
    if (replace) checkMeta(replace.headers, replace.userMeta);
    const source = await this.headObject(from.bucket, from.key);
    checkConditions(source, from.conditions, "write");
    await this.headBucket(to.bucket);
    const holder = newHolder(HolderKind.KEY);
    try {
      await this.#o.files.hold(source.sha256, holder);
    } catch (err) {
      if (isDfsError(err, "DFS_ERR_NOT_FOUND")) {
        throw new DfsError("DFS_ERR_NO_SUCH_KEY", `no key ${from.key} in bucket ${from.bucket}`);
      }
      throw err;
    }
    const [md5hex, parts] = source.etag.split("-");
    const record: ObjectRecord = {
      sha256: source.sha256,
      size: source.size,
      md5: Buffer.from(md5hex!, "hex"),
      parts: parts === undefined ? 0 : Number(parts),
      modifiedMs: this.#now(),
      holder,
      headers: replace?.headers ?? source.headers,
      userMeta: replace?.userMeta ?? source.userMeta,
    };
    await this.#point(to.bucket, kb, record);
    return objectInfo(to.bucket, to.key, record);
  }

  async list(bucket: string, options: ListOptions): Promise<ListPage> {
    await this.headBucket(bucket);
    return listKeys(this.#o.tables, bucket, options, (key, r) =>
      objectInfo(bucket, key, decodeObject(r.value)),
    );
  }

  createUpload: Multipart["createUpload"] = (...a) => this.#multipart.createUpload(...a);
  putPart: Multipart["putPart"] = (...a) => this.#multipart.putPart(...a);
  copyPart: Multipart["copyPart"] = (...a) => this.#multipart.copyPart(...a);
  completeUpload: Multipart["completeUpload"] = (...a) => this.#multipart.completeUpload(...a);
  abortUpload: Multipart["abortUpload"] = (...a) => this.#multipart.abortUpload(...a);
  listParts: Multipart["listParts"] = (...a) => this.#multipart.listParts(...a);
  listUploads: Multipart["listUploads"] = (...a) => this.#multipart.listUploads(...a);

  /** Removes the unfinished uploads older than the max age in every bucket; returns how many. */
  sweepUploads(): Promise<number> {
    return this.#multipart.sweep(() => this.listBuckets());
  }

  /**
   * Points a key at a stored, held file: writes the key's record, then releases the version it
   * replaced, and ours too if a newer version superseded it meanwhile (a leak otherwise).
   */
  async #point(bucket: string, key: Buffer, record: ObjectRecord): Promise<void> {
    const partition = Buffer.from(bucket, "utf8");
    const old = await this.#o.tables.read(OBJECTS_TABLE, partition, key);
    await this.#o.tables.write([
      { table: OBJECTS_TABLE, partitionKey: partition, sortKey: key, value: encodeObject(record) },
    ]);
    await this.#afterWriteInto(bucket, async () => {
      await this.#o.tables.write([
        { table: OBJECTS_TABLE, partitionKey: partition, sortKey: key, deleted: true },
      ]);
      await this.#release(record.sha256, record.holder);
    });
    if (old !== undefined) {
      const was = decodeObject(old.value);
      if (!was.holder.equals(record.holder)) await this.#release(was.sha256, was.holder);
    }
    // A concurrent PUT or DELETE of the key may have read the version before ours and written a
    // newer one: then nobody else releases ours. A quorum read after our write sees any newer one.
    let now: TableRecord | undefined;
    try {
      now = await this.#o.tables.read(OBJECTS_TABLE, partition, key);
    } catch {
      return; // not known: ours may be current, so it stays held (a leak at worst)
    }
    if (now === undefined || !decodeObject(now.value).holder.equals(record.holder)) {
      await this.#release(record.sha256, record.holder);
    }
  }

  /** Releases a file's holder; a failure is reported, not thrown (the key's change is already made). */
  async #release(sha256: string, holder: Buffer): Promise<void> {
    try {
      await this.#o.files.release(sha256, holder);
    } catch (err) {
      this.#o.onReleaseError?.(toDfsError(err), sha256);
    }
  }
}

async function* emptyBody(): AsyncGenerator<Buffer> {}
