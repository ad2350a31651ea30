/**
 * The S3 API through @aws-sdk/client-s3 against a real cluster, continued: multipart uploads
 * (lib-storage, one resumed after a dropped client, UploadPartCopy, Abort), the signatures and
 * grants the listener must refuse, and presigned URLs driven with curl.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  type S3ClientConfig,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { bytesOf, fails, type S3Harness, s3Client, startS3Harness } from "./helpers/s3.ts";

let h: S3Harness;
let s3: S3Client;
let creds: { id: string; secret: string };
const client = (c: { id: string; secret: string }, extra: Partial<S3ClientConfig> = {}) =>
  s3Client(h, c, extra);

before(async () => {
  h = await startS3Harness(true, "s3mpa:");
  creds = await h.createKey([{ bucket: "*", read: true, write: true, owner: true }]);
  s3 = client(creds);
});

after(async () => {
  s3?.destroy();
  await h?.stop();
});

describe("multipart", () => {
  const PART = 5 * 1024 * 1024;
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "multi" }));
  });

  test("lib-storage Upload with CRC32C parts: the bytes, and an ETag of MD5-of-MD5s-N", async () => {
    const data = randomBytes(2 * PART + 12345);
    const upload = new Upload({
      client: s3,
      params: { Bucket: "multi", Key: "big", Body: Readable.from([data]), ChecksumAlgorithm: "CRC32C" },
      partSize: PART,
    });
    const done = await upload.done();
    const parts = [data.subarray(0, PART), data.subarray(PART, 2 * PART), data.subarray(2 * PART)];
    const expected = createHash("md5")
      .update(Buffer.concat(parts.map((p) => createHash("md5").update(p).digest())))
      .digest("hex");
    assert.equal(done.ETag, `"${expected}-3"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: "multi", Key: "big" }));
    assert.deepEqual(await bytesOf(got.Body), data);
  });

  test("an upload resumed after its connection dropped mid-part: parts listed (not the cut one), the rest sent, bytes equal", async () => {
    const data = randomBytes(2 * PART + 999);
    const first = client(creds);
    const { UploadId } = await first.send(
      new CreateMultipartUploadCommand({ Bucket: "multi", Key: "resumed", ContentType: "application/x-r" }),
    );
    const e1 = await first.send(
      new UploadPartCommand({
        Bucket: "multi",
        Key: "resumed",
        UploadId,
        PartNumber: 1,
        Body: data.subarray(0, PART),
      }),
    );
    // Part 2 starts, then the connection drops half-way: nothing of it may be listed.
    const cut = new AbortController();
    async function* half() {
      yield data.subarray(PART, PART + PART / 2);
      cut.abort();
      await new Promise(() => {}); // the rest never comes
    }
    await assert.rejects(
      first.send(
        new UploadPartCommand({
          Bucket: "multi",
          Key: "resumed",
          UploadId,
          PartNumber: 2,
          Body: Readable.from(half()),
          ContentLength: PART,
        }),
        { abortSignal: cut.signal },
      ),
    );
    first.destroy();
    const again = client(creds);
    const uploads = await again.send(new ListMultipartUploadsCommand({ Bucket: "multi" }));
    assert.ok(uploads.Uploads?.some((u) => u.UploadId === UploadId && u.Key === "resumed"));
    const listed = await again.send(new ListPartsCommand({ Bucket: "multi", Key: "resumed", UploadId }));
    assert.deepEqual(
      listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
      [[1, e1.ETag, PART]],
    );
    const e2 = await again.send(
      new UploadPartCommand({
        Bucket: "multi",
        Key: "resumed",
        UploadId,
        PartNumber: 2,
        Body: data.subarray(PART, 2 * PART),
      }),
    );
    const e3 = await again.send(
      new UploadPartCommand({
        Bucket: "multi",
        Key: "resumed",
        UploadId,
        PartNumber: 3,
        Body: data.subarray(2 * PART),
      }),
    );
    await again.send(
      new CompleteMultipartUploadCommand({
        Bucket: "multi",
        Key: "resumed",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1.ETag },
            { PartNumber: 2, ETag: e2.ETag },
            { PartNumber: 3, ETag: e3.ETag },
          ],
        },
      }),
    );
    const got = await again.send(new GetObjectCommand({ Bucket: "multi", Key: "resumed" }));
    assert.equal(got.ContentType, "application/x-r");
    assert.deepEqual(await bytesOf(got.Body), data);
    again.destroy();
  });

  test("ListMultipartUploads pages by key and upload id markers", async () => {
    const made: string[] = [];
    for (const key of ["m/a", "m/b", "m/b"]) {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "multi", Key: key }));
      made.push(`${key} ${UploadId}`);
    }
    const seen: string[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await s3.send(
        new ListMultipartUploadsCommand({
          Bucket: "multi",
          Prefix: "m/",
          MaxUploads: 1,
          KeyMarker: keyMarker,
          UploadIdMarker: idMarker,
        }),
      );
      seen.push(...(page.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`));
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
    assert.deepEqual(seen.sort(), made.sort());
    const pastA = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: "multi", Prefix: "m/", KeyMarker: "m/a" }),
    );
    assert.deepEqual(
      pastA.Uploads?.map((u) => u.Key),
      ["m/b", "m/b"],
    );
    for (const entry of made) {
      const [Key, UploadId] = entry.split(" ");
      await s3.send(new AbortMultipartUploadCommand({ Bucket: "multi", Key, UploadId }));
    }
  });

  test("UploadPartCopy joins ranges of existing keys; Abort forgets the upload", async () => {
    const data = randomBytes(PART + 100);
    await s3.send(new PutObjectCommand({ Bucket: "multi", Key: "source", Body: data }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "multi", Key: "joined" }));
    const p1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: "multi",
        Key: "joined",
        UploadId,
        PartNumber: 1,
        CopySource: "multi/source",
        CopySourceRange: `bytes=0-${PART - 1}`,
      }),
    );
    const p2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: "multi",
        Key: "joined",
        UploadId,
        PartNumber: 2,
        CopySource: "multi/source",
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "multi",
        Key: "joined",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.CopyPartResult?.ETag },
            { PartNumber: 2, ETag: p2.CopyPartResult?.ETag },
          ],
        },
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: "multi", Key: "joined" }));
    assert.deepEqual(await bytesOf(got.Body), Buffer.concat([data.subarray(0, PART), data]));
    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: "multi", Key: "gone" }));
    await s3.send(
      new AbortMultipartUploadCommand({ Bucket: "multi", Key: "gone", UploadId: aborted.UploadId }),
    );
    await fails(
      s3.send(new ListPartsCommand({ Bucket: "multi", Key: "gone", UploadId: aborted.UploadId })),
      "NoSuchUpload",
      404,
    );
  });
});

describe("signatures and access", () => {
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "guarded" }));
    await s3.send(new CreateBucketCommand({ Bucket: "other" }));
    await s3.send(new PutObjectCommand({ Bucket: "guarded", Key: "k", Body: "guarded bytes" }));
  });

  test("a wrong secret is SignatureDoesNotMatch, an unknown key id InvalidAccessKeyId", async () => {
    const wrong = client({ id: creds.id, secret: `${creds.secret.slice(0, -1)}x` });
    await fails(wrong.send(new ListBucketsCommand({})), "SignatureDoesNotMatch", 403);
    await fails(
      wrong.send(new PutObjectCommand({ Bucket: "guarded", Key: "w", Body: "x" })),
      "SignatureDoesNotMatch",
      403,
    );
    const unknown = client({ id: "DKNOSUCHKEY000000000", secret: creds.secret });
    await fails(unknown.send(new ListBucketsCommand({})), "InvalidAccessKeyId", 403);
    await fails(s3.send(new HeadObjectCommand({ Bucket: "guarded", Key: "w" })), "NotFound", 404);
  });

  test("a clock 20 minutes off is RequestTimeTooSkewed", async () => {
    const skewed = client(creds, { systemClockOffset: -20 * 60_000 });
    await fails(skewed.send(new ListBucketsCommand({})), "RequestTimeTooSkewed", 403);
    const near = client(creds, { systemClockOffset: -10 * 60_000 });
    await near.send(new ListBucketsCommand({}));
  });

  test("unsigned requests are refused by a gateway with keys", async () => {
    const res = await fetch(`${h.endpoint}/guarded/k`);
    assert.equal(res.status, 403);
    const xml = await res.text();
    assert.match(xml, /<Code>AccessDenied<\/Code>/);
    assert.match(xml, /<RequestId>[^<]+<\/RequestId>/);
  });

  test("a key sees and touches only the buckets its grants allow", async () => {
    const reader = client(await h.createKey([{ bucket: "guarded", read: true, write: false, owner: false }]));
    const list = await reader.send(new ListBucketsCommand({}));
    assert.deepEqual(
      list.Buckets?.map((b) => b.Name),
      ["guarded"],
    );
    const got = await reader.send(new GetObjectCommand({ Bucket: "guarded", Key: "k" }));
    assert.equal(Buffer.from(await bytesOf(got.Body)).toString(), "guarded bytes");
    await fails(
      reader.send(new PutObjectCommand({ Bucket: "guarded", Key: "w", Body: "x" })),
      "AccessDenied",
      403,
    );
    await fails(reader.send(new ListObjectsV2Command({ Bucket: "other" })), "AccessDenied", 403);
    await fails(reader.send(new CreateBucketCommand({ Bucket: "mine" })), "AccessDenied", 403);
  });
});

describe("presigned URLs", () => {
  const curl = promisify(execFile);
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "presigned" }));
  });

  test("a presigned PUT and GET work with curl; an expired one is refused", async () => {
    const data = randomBytes(50_000);
    const dir = await mkdtemp("/tmp/s3-presign-");
    const file = `${dir}/up.bin`;
    await writeFile(file, data);
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: "presigned", Key: "via curl" }), {
      expiresIn: 300,
    });
    const put = await curl("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "PUT",
      "--data-binary",
      `@${file}`,
      "-H",
      "content-type:",
      putUrl,
    ]);
    assert.equal(put.stdout, "200");
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: "presigned", Key: "via curl" }), {
      expiresIn: 300,
    });
    const got = await curl("curl", ["-sS", "-o", `${dir}/down.bin`, "-w", "%{http_code}", getUrl]);
    assert.equal(got.stdout, "200");
    assert.deepEqual(await readFile(`${dir}/down.bin`), data);
    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: "presigned", Key: "via curl" }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 120_000),
    });
    const res = await fetch(expired);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);
    const tampered = getUrl.replace("via%20curl", "other");
    const bad = await fetch(tampered);
    assert.equal(bad.status, 403);
    assert.match(await bad.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    await rm(dir, { recursive: true });
  });
});
