/**
 * The S3 API through @aws-sdk/client-s3 against a real cluster: every call, bytes round-tripped,
 * streaming checksums, paging, multipart (resumed after a dropped client), conditional and range
 * reads, and the signatures the listener must refuse.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { bytesOf, fails, md5, type S3Harness, s3Client, startS3Harness } from "./helpers/s3.ts";

let h: S3Harness;
let s3: S3Client;
let creds: { id: string; secret: string };
const client = (c: { id: string; secret: string }, extra: Partial<S3ClientConfig> = {}) =>
  s3Client(h, c, extra);

before(async () => {
  h = await startS3Harness(true, "s3api:");
  creds = await h.createKey([{ bucket: "*", read: true, write: true, owner: true }]);
  s3 = client(creds);
});

after(async () => {
  s3?.destroy();
  await h?.stop();
});

describe("buckets", () => {
  test("create, head, list, locate, delete; errors in S3's words", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "alpha" }));
    await fails(s3.send(new CreateBucketCommand({ Bucket: "alpha" })), "BucketAlreadyOwnedByYou", 409);
    await fails(s3.send(new CreateBucketCommand({ Bucket: "no" })), "InvalidBucketName", 400);
    await s3.send(new HeadBucketCommand({ Bucket: "alpha" }));
    const list = await s3.send(new ListBucketsCommand({}));
    assert.ok(list.Buckets?.some((b) => b.Name === "alpha"));
    const where = await s3.send(new GetBucketLocationCommand({ Bucket: "alpha" }));
    assert.equal(where.LocationConstraint ?? "", "");
    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: "alpha" }));
    assert.equal(versioning.Status, undefined);
    await s3.send(new PutObjectCommand({ Bucket: "alpha", Key: "k", Body: "x" }));
    await fails(s3.send(new DeleteBucketCommand({ Bucket: "alpha" })), "BucketNotEmpty", 409);
    await s3.send(new DeleteObjectCommand({ Bucket: "alpha", Key: "k" }));
    await s3.send(new DeleteBucketCommand({ Bucket: "alpha" }));
    await fails(s3.send(new HeadBucketCommand({ Bucket: "alpha" })), "NotFound", 404);
    await fails(s3.send(new ListObjectsV2Command({ Bucket: "alpha" })), "NoSuchBucket", 404);
  });

  test("what is not built answers 501 NotImplemented", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "features" }));
    await fails(
      s3.send(
        new PutBucketVersioningCommand({
          Bucket: "features",
          VersioningConfiguration: { Status: "Enabled" },
        }),
      ),
      "NotImplemented",
      501,
    );
    await fails(
      s3.send(
        new PutBucketTaggingCommand({ Bucket: "features", Tagging: { TagSet: [{ Key: "a", Value: "b" }] } }),
      ),
      "NotImplemented",
      501,
    );
  });
});

describe("objects", () => {
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "objects" }));
  });

  test("PutObject and GetObject round-trip bytes, headers and metadata; the ETag is the MD5", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: "objects",
        Key: "dir/blob.bin",
        Body: data,
        ContentType: "application/x-test",
        ContentDisposition: 'attachment; filename="blob.bin"',
        ContentEncoding: "identity",
        CacheControl: "max-age=60",
        Expires: new Date("2030-01-01T00:00:00Z"),
        Metadata: { colour: "blue", "two-words": "a b" },
      }),
    );
    assert.equal(put.ETag, `"${md5(data)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: "objects", Key: "dir/blob.bin" }));
    assert.deepEqual(await bytesOf(got.Body), data);
    assert.equal(got.ETag, `"${md5(data)}"`);
    assert.equal(got.ContentType, "application/x-test");
    assert.equal(got.ContentDisposition, 'attachment; filename="blob.bin"');
    assert.equal(got.ContentEncoding, "identity");
    assert.equal(got.CacheControl, "max-age=60");
    assert.equal(got.ExpiresString, "Tue, 01 Jan 2030 00:00:00 GMT");
    assert.deepEqual(got.Metadata, { colour: "blue", "two-words": "a b" });
    const head = await s3.send(new HeadObjectCommand({ Bucket: "objects", Key: "dir/blob.bin" }));
    assert.equal(head.ContentLength, data.length);
    await fails(s3.send(new GetObjectCommand({ Bucket: "objects", Key: "missing" })), "NoSuchKey", 404);
  });

  test("streamed bodies (aws-chunked, checksum in a trailer) with every checksum the SDK offers", async () => {
    for (const algorithm of [undefined, "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const) {
      const data = randomBytes(200_000 + (algorithm?.length ?? 0));
      const key = `streamed-${algorithm ?? "default"}`;
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: "objects",
          Key: key,
          Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]),
          ContentLength: data.length,
          ChecksumAlgorithm: algorithm,
        }),
      );
      assert.equal(put.ETag, `"${md5(data)}"`, key);
      const got = await s3.send(new GetObjectCommand({ Bucket: "objects", Key: key }));
      assert.deepEqual(await bytesOf(got.Body), data, key);
    }
  });

  test("a wrong Content-MD5 fails with BadDigest and stores nothing", async () => {
    const wrong = createHash("md5").update("other").digest("base64");
    await fails(
      s3.send(
        new PutObjectCommand({ Bucket: "objects", Key: "bad-md5", Body: "payload", ContentMD5: wrong }),
      ),
      "BadDigest",
      400,
    );
    await fails(s3.send(new HeadObjectCommand({ Bucket: "objects", Key: "bad-md5" })), "NotFound", 404);
    await fails(
      s3.send(
        new PutObjectCommand({
          Bucket: "objects",
          Key: "bad-crc",
          Body: "payload",
          ChecksumCRC32: "AAAAAA==",
        }),
      ),
      "BadDigest",
      400,
    );
    await fails(s3.send(new HeadObjectCommand({ Bucket: "objects", Key: "bad-crc" })), "NotFound", 404);
  });

  test("a declared SHA-256 is checked against the stored file: a wrong one stores nothing", async () => {
    const data = randomBytes(300_000);
    const sha = createHash("sha256").update(data).digest();
    const other = createHash("sha256").update("other").digest();
    const put = (c: S3Client, Key: string, extra: object = {}) =>
      c.send(new PutObjectCommand({ Bucket: "objects", Key, Body: data, ...extra }));
    const absent = (Key: string) =>
      fails(s3.send(new HeadObjectCommand({ Bucket: "objects", Key })), "NotFound", 404);
    // x-amz-checksum-sha256: echoed when it matches.
    const ok = await put(s3, "sha-ok", { ChecksumSHA256: sha.toString("base64") });
    assert.equal(ok.ChecksumSHA256, sha.toString("base64"));
    const got = await s3.send(new GetObjectCommand({ Bucket: "objects", Key: "sha-ok" }));
    assert.deepEqual(await bytesOf(got.Body), data);
    await fails(put(s3, "sha-bad", { ChecksumSHA256: other.toString("base64") }), "BadDigest", 400);
    await absent("sha-bad");
    // The signed x-amz-content-sha256 (set before the SDK signs, so the signature holds).
    const signing = (hex: string) => {
      const c = client(creds);
      c.middlewareStack.add(
        (next) => (args) => {
          (args.request as { headers: Record<string, string> }).headers["x-amz-content-sha256"] = hex;
          return next(args);
        },
        { step: "build" },
      );
      return c;
    };
    const [right, wrong] = [signing(sha.toString("hex")), signing(other.toString("hex"))];
    try {
      await put(right, "payload-ok");
      const back = await s3.send(new GetObjectCommand({ Bucket: "objects", Key: "payload-ok" }));
      assert.deepEqual(await bytesOf(back.Body), data);
      await fails(put(wrong, "payload-bad"), "XAmzContentSHA256Mismatch", 400);
      await absent("payload-bad");
      // A part: refused alike, and the upload holds no part.
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "objects", Key: "mp" }));
      const part = (c: S3Client) =>
        c.send(new UploadPartCommand({ Bucket: "objects", Key: "mp", UploadId, PartNumber: 1, Body: data }));
      await fails(part(wrong), "XAmzContentSHA256Mismatch", 400);
      const parts = await s3.send(new ListPartsCommand({ Bucket: "objects", Key: "mp", UploadId }));
      assert.equal(parts.Parts?.length ?? 0, 0);
      await part(right);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: "objects", Key: "mp", UploadId }));
    } finally {
      right.destroy();
      wrong.destroy();
    }
  });

  test("Range reads and conditional GETs", async () => {
    const data = randomBytes(100_000);
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket: "objects", Key: "ranged", Body: data }));
    const get = (extra: object) =>
      s3.send(new GetObjectCommand({ Bucket: "objects", Key: "ranged", ...extra }));
    const mid = await get({ Range: "bytes=1000-1999" });
    assert.equal(mid.ContentRange, `bytes 1000-1999/${data.length}`);
    assert.deepEqual(await bytesOf(mid.Body), data.subarray(1000, 2000));
    assert.deepEqual(await bytesOf((await get({ Range: "bytes=-10" })).Body), data.subarray(-10));
    assert.deepEqual(await bytesOf((await get({ Range: "bytes=99990-" })).Body), data.subarray(99990));
    await fails(get({ Range: "bytes=100000-" }), "InvalidRange", 416);
    assert.deepEqual(await bytesOf((await get({ IfMatch: ETag })).Body), data);
    await fails(get({ IfMatch: '"0000"' }), "PreconditionFailed", 412);
    await fails(get({ IfNoneMatch: ETag }), undefined, 304);
    const later = new Date(Date.now() + 60_000);
    const earlier = new Date(Date.now() - 3_600_000);
    await fails(get({ IfModifiedSince: later }), undefined, 304);
    assert.equal((await get({ IfModifiedSince: earlier })).ContentLength, data.length);
    await fails(get({ IfUnmodifiedSince: earlier }), "PreconditionFailed", 412);
  });

  test("DeleteObjects, and CopyObject keeping or replacing metadata", async () => {
    const data = Buffer.from("copy me");
    await s3.send(new PutObjectCommand({ Bucket: "objects", Key: "src", Body: data, Metadata: { a: "1" } }));
    await s3.send(new CopyObjectCommand({ Bucket: "objects", Key: "copy1", CopySource: "objects/src" }));
    const c1 = await s3.send(new GetObjectCommand({ Bucket: "objects", Key: "copy1" }));
    assert.deepEqual(await bytesOf(c1.Body), data);
    assert.deepEqual(c1.Metadata, { a: "1" });
    await s3.send(
      new CopyObjectCommand({
        Bucket: "objects",
        Key: "copy 2+odd",
        CopySource: "objects/src",
        MetadataDirective: "REPLACE",
        Metadata: { b: "2" },
        ContentType: "text/plain",
      }),
    );
    const c2 = await s3.send(new HeadObjectCommand({ Bucket: "objects", Key: "copy 2+odd" }));
    assert.deepEqual(c2.Metadata, { b: "2" });
    assert.equal(c2.ContentType, "text/plain");
    const del = await s3.send(
      new DeleteObjectsCommand({
        Bucket: "objects",
        Delete: { Objects: [{ Key: "src" }, { Key: "copy1" }, { Key: "copy 2+odd" }, { Key: "never-was" }] },
      }),
    );
    assert.deepEqual(del.Deleted?.map((d) => d.Key).sort(), ["copy 2+odd", "copy1", "never-was", "src"]);
    assert.equal(del.Errors, undefined);
    await fails(s3.send(new HeadObjectCommand({ Bucket: "objects", Key: "src" })), "NotFound", 404);
  });
});

describe("listing", () => {
  const keys = ["a/1", "a/2", "b/1", "b/2/x", "c", "d", "e&<odd> key", "f%2F", "g\u00e9\u4e2d"];
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "listing" }));
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: "listing", Key: k, Body: k }));
  });

  test("ListObjectsV2 pages with a delimiter: every key or prefix once, in order", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: "listing", Delimiter: "/", MaxKeys: 2, ContinuationToken: token }),
      );
      pages++;
      seen.push(
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ...(page.Contents ?? []).map((c) => c.Key!),
      );
      assert.equal(page.KeyCount, (page.CommonPrefixes?.length ?? 0) + (page.Contents?.length ?? 0));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    assert.deepEqual(seen.sort(), ["a/", "b/", "c", "d", "e&<odd> key", "f%2F", "g\u00e9\u4e2d"]);
    assert.ok(pages >= 4);
    const inB = await s3.send(new ListObjectsV2Command({ Bucket: "listing", Prefix: "b/", Delimiter: "/" }));
    assert.deepEqual(
      inB.Contents?.map((c) => c.Key),
      ["b/1"],
    );
    assert.deepEqual(
      inB.CommonPrefixes?.map((p) => p.Prefix),
      ["b/2/"],
    );
    const after = await s3.send(new ListObjectsV2Command({ Bucket: "listing", StartAfter: "d" }));
    assert.deepEqual(
      after.Contents?.map((c) => c.Key),
      ["e&<odd> key", "f%2F", "g\u00e9\u4e2d"],
    );
  });

  test("encoding-type=url encodes keys, and they decode to what was stored", async () => {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: "listing", EncodingType: "url", Prefix: "e" }),
    );
    assert.equal(page.Contents?.[0]?.Key, "e%26%3Codd%3E%20key");
    const all = await s3.send(new ListObjectsV2Command({ Bucket: "listing", EncodingType: "url" }));
    assert.deepEqual(
      all.Contents?.map((c) => decodeURIComponent(c.Key!)),
      keys,
    );
  });

  test("ListObjects (v1) pages by marker; ListObjectVersions answers for an unversioned bucket", async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(
        new ListObjectsCommand({ Bucket: "listing", Delimiter: "/", MaxKeys: 3, Marker: marker }),
      );
      seen.push(
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ...(page.Contents ?? []).map((c) => c.Key!),
      );
      if (!page.IsTruncated) break;
      marker = page.NextMarker;
      assert.ok(marker !== undefined);
    }
    assert.deepEqual(seen.sort(), ["a/", "b/", "c", "d", "e&<odd> key", "f%2F", "g\u00e9\u4e2d"]);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: "listing", Prefix: "a/" }));
    assert.deepEqual(
      versions.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]),
      [
        ["a/1", "null", true],
        ["a/2", "null", true],
      ],
    );
  });
});
