/**
 * Signed aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its -TRAILER form) through a
 * keyed gateway, framed and signed here as the AWS streaming examples are: the bytes round-trip,
 * and one wrong chunk or trailer signature fails the upload with nothing stored.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { newDigest } from "../src/s3/checksums.ts";
import {
  canonicalRequest,
  chunkStringToSign,
  headerValues,
  sha256Hex,
  signHex,
  signingKey,
  stringToSign,
  trailerStringToSign,
} from "../src/s3/sigv4.ts";
import { bytesOf, fails, type S3Harness, s3Client, startS3Harness } from "./helpers/s3.ts";

let h: S3Harness;
let s3: S3Client;
let creds: { id: string; secret: string };

before(async () => {
  h = await startS3Harness(true, "s3chunked:");
  creds = await h.createKey([{ bucket: "*", read: true, write: true, owner: true }]);
  s3 = s3Client(h, creds);
  await s3.send(new CreateBucketCommand({ Bucket: "chunked" }));
});

after(async () => {
  s3?.destroy();
  await h?.stop();
});

/** PUTs `data` in `chunk`-byte signed chunks; `spoil` breaks the n-th chunk signature (or -1: the trailer's). */
async function putChunked(
  key: string,
  data: Buffer,
  chunk: number,
  trailer: boolean,
  spoil?: number,
): Promise<number> {
  const url = new URL(h.endpoint);
  const host = url.host;
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const date = amzDate.slice(0, 8);
  const scope = `${date}/us-east-1/s3/aws4_request`;
  const key4 = signingKey(creds.secret, { date, region: "us-east-1", service: "s3" });
  const payload = trailer
    ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
  // biome-ignore format: name, value pairs
  const raw = [
    "host", host,
    "x-amz-date", amzDate,
    "x-amz-content-sha256", payload,
    "content-encoding", "aws-chunked",
    "x-amz-decoded-content-length", String(data.length),
    ...(trailer ? ["x-amz-trailer", "x-amz-checksum-crc32c"] : []),
  ];
  const signed = [...new Set(raw.filter((_, i) => i % 2 === 0))].sort();
  const path = `/chunked/${encodeURIComponent(key)}`;
  const canonical = canonicalRequest({
    method: "PUT",
    rawPath: path,
    query: [],
    headers: headerValues(raw),
    signedHeaders: signed,
    payloadHash: payload,
  });
  const seed = signHex(key4, stringToSign(amzDate, scope, canonical));
  const parts: Buffer[] = [];
  let previous = seed;
  const pieces = [];
  for (let i = 0; i < data.length; i += chunk) pieces.push(data.subarray(i, i + chunk));
  pieces.push(Buffer.alloc(0));
  pieces.forEach((piece, n) => {
    let sig = signHex(key4, chunkStringToSign(amzDate, scope, previous, sha256Hex(piece)));
    previous = sig;
    if (spoil === n) sig = "0".repeat(64);
    parts.push(Buffer.from(`${piece.length.toString(16)};chunk-signature=${sig}\r\n`), piece);
    if (piece.length > 0) parts.push(Buffer.from("\r\n"));
  });
  if (trailer) {
    const crc = newDigest("crc32c");
    crc.update(data);
    const line = `x-amz-checksum-crc32c:${crc.base64()}`;
    let sig = signHex(key4, trailerStringToSign(amzDate, scope, previous, sha256Hex(`${line}\n`)));
    if (spoil === -1) sig = "0".repeat(64);
    parts.push(Buffer.from(`${line}\r\nx-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(Buffer.from("\r\n"));
  const body = Buffer.concat(parts);
  const authorization = `AWS4-HMAC-SHA256 Credential=${creds.id}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${seed}`;
  const headers: Record<string, string> = { authorization, "content-length": String(body.length) };
  for (let i = 0; i < raw.length; i += 2) headers[raw[i]!] = raw[i + 1]!;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: "PUT", path, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("signed aws-chunked uploads", () => {
  test("every chunk signature checked; the bytes round-trip, with and without a signed trailer", async () => {
    for (const trailer of [false, true]) {
      const data = randomBytes(300_000 + 7);
      const key = `signed ${trailer}`;
      assert.equal(await putChunked(key, data, 65_536, trailer), 200);
      const got = await s3.send(new GetObjectCommand({ Bucket: "chunked", Key: key }));
      assert.deepEqual(await bytesOf(got.Body), data);
      assert.equal(got.ETag, `"${createHash("md5").update(data).digest("hex")}"`);
    }
  });

  test("a wrong chunk or trailer signature fails the upload, and nothing is stored", async () => {
    const data = randomBytes(200_000);
    assert.equal(await putChunked("spoiled-2", data, 65_536, false, 2), 403);
    assert.equal(await putChunked("spoiled-last", data, 65_536, false, 4), 403);
    assert.equal(await putChunked("spoiled-trailer", data, 65_536, true, -1), 403);
    for (const key of ["spoiled-2", "spoiled-last", "spoiled-trailer"]) {
      await fails(s3.send(new HeadObjectCommand({ Bucket: "chunked", Key: key })), "NotFound", 404);
    }
  });
});
