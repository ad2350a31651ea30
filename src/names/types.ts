/**
 * The naming service's contract: buckets, keys pointing at stored files, listings and multipart
 * uploads. One implementation (src/names/) serves both the /v1 routes and the S3 listener; neither
 * API reaches the tables directly.
 */
import type { Sha256Check } from "./files.ts";

/** An object's standard headers, kept as the uploader gave them and sent back on GET / HEAD. */
export interface ObjectHeaders {
  contentType: string;
  contentDisposition?: string | undefined;
  contentEncoding?: string | undefined;
  contentLanguage?: string | undefined;
  cacheControl?: string | undefined;
  /** As sent (an HTTP date); S3 returns it verbatim. */
  expires?: string | undefined;
}

/** What a key points at: a stored file and what was said of it. */
export interface ObjectInfo {
  bucket: string;
  key: string;
  /** The file's SHA-256 (hex): it is also reachable at /v1/files/{sha256}. */
  sha256: string;
  size: number;
  /** MD5 of the bytes (hex) for a single PUT; "<md5 of the parts' md5s>-N" for a multipart upload. */
  etag: string;
  /** When this version of the key was written (ms since the epoch). */
  modifiedMs: number;
  headers: ObjectHeaders;
  /** x-amz-meta-* (lower-case names without the prefix), at most 2 KiB in all as S3 allows. */
  userMeta: Record<string, string>;
  /** Parts of a multipart upload; absent for a single PUT. */
  parts?: number | undefined;
}

export interface BucketInfo {
  name: string;
  createdMs: number;
}

export interface ListOptions {
  prefix?: string | undefined;
  delimiter?: string | undefined;
  /** Keys strictly after this one (S3 start-after / marker). */
  startAfter?: string | undefined;
  /** An opaque cursor from a previous page's `next`; wins over startAfter. */
  cursor?: string | undefined;
  /** Keys plus common prefixes in a page: 1..1000. */
  limit: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Distinct prefixes up to and including the delimiter, in key order, each once across pages. */
  commonPrefixes: string[];
  truncated: boolean;
  /** Set when truncated: the cursor of the next page (opaque, URL-safe). */
  next?: string | undefined;
  /** The last key or common prefix of this page (S3 v1 NextMarker). */
  lastName?: string | undefined;
}

/** Preconditions on the current version of a key (S3 and /v1 conditional requests). */
export interface Conditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSinceMs?: number | undefined;
  ifUnmodifiedSinceMs?: number | undefined;
}

export interface PutObjectInput {
  headers: ObjectHeaders;
  userMeta: Record<string, string>;
  /** The body: plaintext pieces, read once, streamed (never buffered whole). */
  body: AsyncIterable<Buffer>;
  /** Cancels the upload (client gone). */
  signal: AbortSignal;
  /** When given, the body's MD5 must equal it (Content-MD5) or the put fails with nothing visible. */
  expectMd5?: Buffer | undefined;
  /** Likewise for its SHA-256 (files.ts: checked against the file id, no pass of its own). */
  expectSha256?: Sha256Check | undefined;
}

export interface PutObjectResult {
  info: ObjectInfo;
}

export interface MultipartUpload {
  bucket: string;
  key: string;
  uploadId: string;
  initiatedMs: number;
  headers: ObjectHeaders;
  userMeta: Record<string, string>;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  /** MD5 hex of the part's bytes. */
  etag: string;
  modifiedMs: number;
}

/**
 * Names over the tables. Every call is a quorum operation: after an acknowledged put or delete,
 * every gateway's get, head and list see it. Errors are DfsErrors with stable codes
 * (DFS_ERR_NO_SUCH_BUCKET, DFS_ERR_NO_SUCH_KEY, DFS_ERR_BUCKET_NOT_EMPTY, DFS_ERR_BUCKET_EXISTS,
 * DFS_ERR_INVALID_NAME, DFS_ERR_PRECONDITION, DFS_ERR_NO_SUCH_UPLOAD, DFS_ERR_INVALID_PART,
 * DFS_ERR_BAD_DIGEST, ...) that each API maps to its own words.
 */
export interface NameService {
  listBuckets(): Promise<BucketInfo[]>;
  createBucket(name: string): Promise<BucketInfo>;
  headBucket(name: string): Promise<BucketInfo>;
  /** Only when no key and no unfinished multipart upload is left in it. */
  deleteBucket(name: string): Promise<void>;

  putObject(bucket: string, key: string, input: PutObjectInput): Promise<PutObjectResult>;
  headObject(bucket: string, key: string): Promise<ObjectInfo>;
  /**
   * The plaintext of [start, end] (inclusive) of the key's current file, streamed; the first piece
   * is read before this resolves so a missing file fails before a status line is sent.
   */
  readObject(
    info: ObjectInfo,
    range: { start: number; end: number },
    signal: AbortSignal,
  ): Promise<AsyncIterable<Buffer>>;
  /** Deleting a key that does not exist succeeds (S3 semantics); returns whether it existed. */
  deleteObject(bucket: string, key: string): Promise<boolean>;
  /** A new key naming the same file: no data is copied. Headers and metadata replaced when given. */
  copyObject(
    from: { bucket: string; key: string; conditions?: Conditions | undefined },
    to: { bucket: string; key: string },
    replace?: { headers: ObjectHeaders; userMeta: Record<string, string> } | undefined,
  ): Promise<ObjectInfo>;
  list(bucket: string, options: ListOptions): Promise<ListPage>;

  createUpload(
    bucket: string,
    key: string,
    meta: { headers: ObjectHeaders; userMeta: Record<string, string> },
  ): Promise<MultipartUpload>;
  /** Stores one part (replacing an earlier part of that number). */
  putPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    input: Omit<PutObjectInput, "headers" | "userMeta">,
  ): Promise<PutObjectResult & { part: PartInfo }>;
  /** A part made of a byte range of an existing key's file (UploadPartCopy). */
  copyPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    from: { bucket: string; key: string; range?: { start: number; end: number } | undefined },
  ): Promise<PartInfo>;
  /** Joins the named parts' chunk lists into one file (no data copied) and points the key at it. */
  completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo>;
  abortUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listParts(
    bucket: string,
    key: string,
    uploadId: string,
    options: { after?: number | undefined; limit: number },
  ): Promise<{ upload: MultipartUpload; parts: PartInfo[]; truncated: boolean; next?: number | undefined }>;
  /**
   * Unfinished uploads in (key, upload id) order. `after` is a page's `next`, or
   * uploadsCursor(keyMarker, uploadIdMarker) for S3's markers (src/names/multipart.ts).
   */
  listUploads(
    bucket: string,
    options: { prefix?: string | undefined; after?: string | undefined; limit: number },
  ): Promise<{ uploads: MultipartUpload[]; truncated: boolean; next?: string | undefined }>;
}
