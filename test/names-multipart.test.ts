/**
 * Multipart uploads of the naming service on a real cluster (Redis Sentinel, three `dfs node`
 * processes) through a gateway in this process whose clock the test controls: parts of irregular
 * sizes joined by their chunk lists (no data copied) with S3's ETag, parts replaced, bad
 * completions, abort, and the sweep of old uploads.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { type Names, uploadsCursor } from "../src/names/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  waitLive,
} from "./helpers/gateway.ts";

const MAX_AGE_MS = 60_000;
let cluster: Cluster;
let gw: Gateway & { running: { app: { names: Names } } };
let names: Names;
let nowMs = Date.now();

const md5 = (data: Buffer) => createHash("md5").update(data).digest();
const signal = new AbortController().signal;
const body = (data: Buffer) =>
  (async function* () {
    yield data;
  })();
const rejects = (code: string) => (err: unknown) => isDfsError(err) && err.code === code;

before(async () => {
  cluster = await startCluster(3, "namesmpu:");
  gw = await startGatewayInProcess(
    cluster,
    { "chunk-size": String(SMALL_CHUNK) },
    { DFS_MULTIPART_MAX_AGE_MS: String(MAX_AGE_MS), DFS_MULTIPART_SWEEP_MS: "0" },
    () => nowMs,
  );
  await waitLive(gw.url, 3);
  names = gw.running.app.names;
  await names.createBucket("mpu");
});

after(async () => {
  await gw?.stop();
  await cluster?.stop();
});

async function chunksOf(hash: string): Promise<number> {
  const meta = await http(gw.url, "GET", `/v1/files/${hash}/meta`);
  assert.equal(meta.status, 200);
  return (meta.json as { chunks: unknown[] }).chunks.length;
}

describe("multipart uploads", () => {
  test("parts of irregular sizes are joined by their chunk lists; ETag is the MD5 of the MD5s, -N", async () => {
    const C = SMALL_CHUNK;
    const sizes = [2 * C + 123, 1000, C, 3 * C - 1];
    const parts = sizes.map((n, i) => patternBytes(n, 40 + i));
    const up = await names.createUpload("mpu", "big/joined.bin", {
      headers: { contentType: "application/x-test" },
      userMeta: { origin: "multipart" },
    });
    // Part 2 first with other bytes, then replaced.
    await names.putPart("mpu", "big/joined.bin", up.uploadId, 2, {
      body: body(Buffer.from("replaced")),
      signal,
    });
    const etags: string[] = [];
    let partChunks = 0;
    for (const [i, data] of parts.entries()) {
      const r = await names.putPart("mpu", "big/joined.bin", up.uploadId, i + 1, {
        body: body(data),
        signal,
      });
      assert.equal(r.part.etag, md5(data).toString("hex"));
      assert.equal(r.part.size, data.length);
      etags.push(`"${r.part.etag}"`);
      partChunks += await chunksOf(r.info.sha256);
    }
    const listed = await names.listParts("mpu", "big/joined.bin", up.uploadId, { limit: 2 });
    assert.deepEqual(
      listed.parts.map((p) => p.partNumber),
      [1, 2],
    );
    assert.equal(listed.truncated, true);
    const uploads = await names.listUploads("mpu", { prefix: "big/", limit: 10 });
    assert.deepEqual(
      uploads.uploads.map((u) => u.uploadId),
      [up.uploadId],
    );

    const info = await names.completeUpload(
      "mpu",
      "big/joined.bin",
      up.uploadId,
      etags.map((etag, i) => ({ partNumber: i + 1, etag })),
    );
    const whole = Buffer.concat(parts);
    const expectEtag = `${createHash("md5")
      .update(Buffer.concat(parts.map(md5)))
      .digest("hex")}-${parts.length}`;
    assert.equal(info.etag, expectEtag);
    assert.equal(info.sha256, sha256(whole));
    assert.equal(info.size, whole.length);
    assert.equal(await chunksOf(info.sha256), partChunks, "the parts' chunks, joined: none re-cut");

    const got = await http(gw.url, "GET", `/v1/buckets/mpu/objects/big%2Fjoined.bin`);
    assert.ok(got.body.equals(whole), "the joined bytes");
    assert.equal(got.headers.etag, `"${expectEtag}"`);
    assert.equal(got.headers["x-meta-origin"], "multipart");
    const ranged = await http(gw.url, "GET", `/v1/buckets/mpu/objects/big%2Fjoined.bin`, {
      headers: { range: `bytes=${2 * C + 100}-${2 * C + 1200}` },
    });
    assert.ok(ranged.body.equals(whole.subarray(2 * C + 100, 2 * C + 1201)), "a range across parts");
    await assert.rejects(
      names.listParts("mpu", "big/joined.bin", up.uploadId, { limit: 10 }),
      rejects("DFS_ERR_NO_SUCH_UPLOAD"),
    );
  });

  test("a completion naming a missing part, a wrong ETag or parts out of order is DFS_ERR_INVALID_PART", async () => {
    const up = await names.createUpload("mpu", "bad", {
      headers: { contentType: "text/plain" },
      userMeta: {},
    });
    const r = await names.putPart("mpu", "bad", up.uploadId, 1, { body: body(Buffer.from("one")), signal });
    const r2 = await names.putPart("mpu", "bad", up.uploadId, 2, { body: body(Buffer.from("two")), signal });
    for (const parts of [
      [
        { partNumber: 1, etag: r.part.etag },
        { partNumber: 3, etag: r.part.etag },
      ],
      [{ partNumber: 1, etag: "00".repeat(16) }],
      [
        { partNumber: 2, etag: r2.part.etag },
        { partNumber: 1, etag: r.part.etag },
      ],
      [],
    ]) {
      await assert.rejects(
        names.completeUpload("mpu", "bad", up.uploadId, parts),
        rejects("DFS_ERR_INVALID_PART"),
      );
    }
    await assert.rejects(names.headObject("mpu", "bad"), rejects("DFS_ERR_NO_SUCH_KEY"));
    await names.abortUpload("mpu", "bad", up.uploadId);
  });

  test("abort removes the upload and releases its parts' files; a bucket with an upload is not empty", async () => {
    await names.createBucket("mpu-abort");
    const up = await names.createUpload("mpu-abort", "k", {
      headers: { contentType: "text/plain" },
      userMeta: {},
    });
    const data = patternBytes(2 * SMALL_CHUNK + 5, 91);
    const r = await names.putPart("mpu-abort", "k", up.uploadId, 1, { body: body(data), signal });
    assert.equal((await http(gw.url, "GET", `/v1/files/${r.info.sha256}`)).status, 200);
    await assert.rejects(names.deleteBucket("mpu-abort"), rejects("DFS_ERR_BUCKET_NOT_EMPTY"));
    await names.abortUpload("mpu-abort", "k", up.uploadId);
    await assert.rejects(
      names.putPart("mpu-abort", "k", up.uploadId, 2, { body: body(Buffer.from("late")), signal }),
      rejects("DFS_ERR_NO_SUCH_UPLOAD"),
    );
    assert.equal(
      (await http(gw.url, "GET", `/v1/files/${r.info.sha256}`)).status,
      404,
      "the part's file is deleted",
    );
    await names.deleteBucket("mpu-abort");
  });

  test("copyPart takes a byte range of an existing key", async () => {
    const source = patternBytes(3 * SMALL_CHUNK + 9, 95);
    await names.putObject("mpu", "source", {
      headers: { contentType: "text/plain" },
      userMeta: {},
      body: body(source),
      signal,
    });
    const up = await names.createUpload("mpu", "copied", {
      headers: { contentType: "text/plain" },
      userMeta: {},
    });
    const range = { start: SMALL_CHUNK - 4, end: 2 * SMALL_CHUNK + 20 };
    const p1 = await names.copyPart("mpu", "copied", up.uploadId, 1, { bucket: "mpu", key: "source", range });
    const p2 = await names.copyPart("mpu", "copied", up.uploadId, 2, { bucket: "mpu", key: "source" });
    const slice = source.subarray(range.start, range.end + 1);
    assert.equal(p1.etag, md5(slice).toString("hex"));
    assert.equal(p1.size, slice.length);
    await assert.rejects(
      names.copyPart("mpu", "copied", up.uploadId, 3, {
        bucket: "mpu",
        key: "source",
        range: { start: 0, end: source.length },
      }),
      rejects("DFS_ERR_RANGE"),
    );
    const info = await names.completeUpload("mpu", "copied", up.uploadId, [
      { partNumber: 1, etag: p1.etag },
      { partNumber: 2, etag: p2.etag },
    ]);
    const got = await http(gw.url, "GET", "/v1/buckets/mpu/objects/copied");
    assert.ok(got.body.equals(Buffer.concat([slice, source])));
    assert.equal(info.size, slice.length + source.length);
  });

  test("listUploads pages in (key, upload id) order; S3's markers through uploadsCursor", async () => {
    await names.createBucket("mpu-list");
    const meta = { headers: { contentType: "text/plain" }, userMeta: {} };
    const made = [
      await names.createUpload("mpu-list", "p/b", meta),
      await names.createUpload("mpu-list", "p/a", meta),
      await names.createUpload("mpu-list", "p/b", meta),
      await names.createUpload("mpu-list", "q", meta),
    ];
    const sorted = made
      .map((u) => [u.key, u.uploadId] as const)
      .sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1));
    const seen: (readonly [string, string])[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await names.listUploads("mpu-list", { prefix: "p/", after, limit: 1 });
      seen.push(...page.uploads.map((u) => [u.key, u.uploadId] as const));
      if (!page.truncated) break;
      after = page.next;
    }
    assert.deepEqual(
      seen,
      sorted.filter(([k]) => k.startsWith("p/")),
    );
    const pastA = await names.listUploads("mpu-list", { after: uploadsCursor("p/a"), limit: 10 });
    assert.deepEqual(
      pastA.uploads.map((u) => u.key),
      ["p/b", "p/b", "q"],
    );
    const pastFirstB = await names.listUploads("mpu-list", {
      after: uploadsCursor("p/b", sorted[1]![1]),
      limit: 10,
    });
    assert.deepEqual(
      pastFirstB.uploads.map((u) => u.uploadId),
      [sorted[2]![1], sorted[3]![1]],
    );
    for (const u of made) await names.abortUpload("mpu-list", u.key, u.uploadId);
  });

  test("listUploads orders keys by their UTF-8 bytes, as S3 and the key listing do", async () => {
    await names.createBucket("mpu-utf8");
    const meta = { headers: { contentType: "text/plain" }, userMeta: {} };
    // U+1F600 is a surrogate pair in UTF-16 (0xD83D first) and F0 9F 98 80 in UTF-8; U+FF5E is
    // 0xFF5E and EF BD 9E: the two orders disagree.
    const emoji = await names.createUpload("mpu-utf8", "k-\u{1F600}", meta);
    const wide = await names.createUpload("mpu-utf8", "k-\uFF5E", meta);
    const all = await names.listUploads("mpu-utf8", { limit: 10 });
    assert.deepEqual(
      all.uploads.map((u) => u.key),
      ["k-\uFF5E", "k-\u{1F600}"],
    );
    const first = await names.listUploads("mpu-utf8", { limit: 1 });
    assert.equal(first.truncated, true);
    const second = await names.listUploads("mpu-utf8", { after: first.next, limit: 1 });
    assert.deepEqual(
      second.uploads.map((u) => u.key),
      ["k-\u{1F600}"],
    );
    for (const u of [emoji, wide]) await names.abortUpload("mpu-utf8", u.key, u.uploadId);
  });

  test("the sweep removes uploads older than the max age (the test's clock), and only those", async () => {
    await names.createBucket("mpu-sweep");
    const old = await names.createUpload("mpu-sweep", "old", {
      headers: { contentType: "text/plain" },
      userMeta: {},
    });
    const oldPart = await names.putPart("mpu-sweep", "old", old.uploadId, 1, {
      body: body(patternBytes(SMALL_CHUNK + 3, 92)),
      signal,
    });
    nowMs += MAX_AGE_MS / 2;
    const young = await names.createUpload("mpu-sweep", "young", {
      headers: { contentType: "text/plain" },
      userMeta: {},
    });
    nowMs += MAX_AGE_MS / 2;
    assert.equal(await names.sweepUploads(), 0, "exactly the max age: kept");
    nowMs += 1;
    assert.ok((await names.sweepUploads()) >= 1);
    await assert.rejects(
      names.listParts("mpu-sweep", "old", old.uploadId, { limit: 10 }),
      rejects("DFS_ERR_NO_SUCH_UPLOAD"),
    );
    assert.equal((await http(gw.url, "GET", `/v1/files/${oldPart.info.sha256}`)).status, 404);
    const left = await names.listUploads("mpu-sweep", { limit: 10 });
    assert.deepEqual(
      left.uploads.map((u) => u.uploadId),
      [young.uploadId],
    );
  });
});
