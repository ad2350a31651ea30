/** The naming service's pure parts: name rules, record codecs, cursors, preconditions, CRC-32C. */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import {
  checkBucketName,
  checkConditions,
  decodeCursor,
  encodeCursor,
  keyBytes,
  type ObjectInfo,
} from "../src/names/index.ts";
import { decodeObject, decodePart, encodeObject, encodePart } from "../src/names/records.ts";
import { prefixEnd } from "../src/names/rules.ts";

const code = (c: string) => (err: unknown) => isDfsError(err) && err.code === c;

describe("names: rules", () => {
  test("bucket names follow S3's rules", () => {
    for (const ok of ["abc", "my-bucket.2026", "a".repeat(63), "0-0"]) checkBucketName(ok);
    for (const bad of [
      "ab",
      "a".repeat(64),
      "Abc",
      "-abc",
      "abc-",
      "a..b",
      "10.0.0.1",
      "xn--abc",
      "abc-s3alias",
      "a_b",
      "a b",
    ]) {
      assert.throws(() => checkBucketName(bad), code("DFS_ERR_INVALID_NAME"), bad);
    }
  });

  test("keys are 1..1024 bytes of well-formed UTF-8", () => {
    assert.equal(keyBytes("é/€").length, 6);
    assert.equal(keyBytes("k".repeat(1024)).length, 1024);
    for (const bad of ["", "k".repeat(1025), "é".repeat(513), "\ud800"]) {
      assert.throws(() => keyBytes(bad), code("DFS_ERR_INVALID_NAME"));
    }
  });

  test("prefixEnd is the smallest string above every string with the prefix", () => {
    assert.deepEqual(prefixEnd(Buffer.from("ab/")), Buffer.from("ab0"));
    assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff, 0xff])), Buffer.from([0x62]));
    assert.equal(prefixEnd(Buffer.from([0xff])), undefined);
    const p = Buffer.from("dir/");
    const end = prefixEnd(p)!;
    for (let i = 0; i < 200; i++) {
      const k = Buffer.concat([p, randomBytes(i % 9)]);
      assert.ok(Buffer.compare(k, end) < 0);
    }
  });
});

describe("names: codecs", () => {
  test("an object record round-trips, and a foreign format is refused", () => {
    const r = {
      sha256: "ab".repeat(32),
      size: 5 * 1024 ** 4 + 3,
      md5: randomBytes(16),
      parts: 10_000,
      modifiedMs: 1_765_000_000_123,
      holder: randomBytes(33),
      headers: {
        contentType: "text/plain",
        cacheControl: "max-age=1",
        expires: "Thu, 01 Dec 2026 16:00:00 GMT",
      },
      userMeta: { "a-b": "c d", ü: "€" },
    };
    assert.deepEqual(decodeObject(encodeObject(r)), r);
    const bad = encodeObject(r);
    bad[0] = 9;
    assert.throws(() => decodeObject(bad), code("DFS_ERR_CORRUPT"));
  });

  test("a part record round-trips", () => {
    const p = {
      sha256: "cd".repeat(32),
      size: 0,
      md5: randomBytes(16),
      modifiedMs: 1,
      holder: randomBytes(33),
    };
    assert.deepEqual(decodePart(encodePart(p)), p);
  });

  test("cursors round-trip; anything else is DFS_ERR_BAD_REQUEST", () => {
    const after = { after: Buffer.from("a/é") };
    const from = { from: Buffer.from("b0") };
    assert.deepEqual(decodeCursor(encodeCursor(after)), after);
    assert.deepEqual(decodeCursor(encodeCursor(from)), from);
    for (const bad of ["", "!!", "eA", Buffer.from("xkey").toString("base64url"), "YQ==", "YWFh="]) {
      assert.throws(() => decodeCursor(bad), code("DFS_ERR_BAD_REQUEST"), bad);
    }
  });
});

describe("names: preconditions", () => {
  const info: ObjectInfo = {
    bucket: "b",
    key: "k",
    sha256: "00".repeat(32),
    size: 1,
    etag: "0123abcd",
    modifiedMs: Date.parse("2026-12-07T10:00:00.500Z"),
    headers: { contentType: "text/plain" },
    userMeta: {},
  };
  const at = (iso: string) => Date.parse(iso);

  test("RFC 9110's order: If-Match / If-Unmodified-Since fail with 412; If-None-Match / If-Modified-Since give 304 on reads", () => {
    assert.equal(checkConditions(info, undefined, "read"), "proceed");
    assert.equal(checkConditions(info, { ifMatch: '"0123abcd"' }, "read"), "proceed");
    assert.equal(checkConditions(info, { ifMatch: 'W/"x", "0123abcd"' }, "read"), "proceed");
    assert.throws(() => checkConditions(info, { ifMatch: '"other"' }, "read"), code("DFS_ERR_PRECONDITION"));
    assert.equal(checkConditions(info, { ifNoneMatch: '"0123abcd"' }, "read"), "not-modified");
    assert.equal(checkConditions(info, { ifNoneMatch: "*" }, "read"), "not-modified");
    assert.throws(
      () => checkConditions(info, { ifNoneMatch: '"0123abcd"' }, "write"),
      code("DFS_ERR_PRECONDITION"),
    );
    // Whole seconds: modified at 10:00:00.5 is not after 10:00:00.
    assert.equal(
      checkConditions(info, { ifModifiedSinceMs: at("2026-12-07T10:00:00Z") }, "read"),
      "not-modified",
    );
    assert.equal(checkConditions(info, { ifModifiedSinceMs: at("2026-12-07T09:59:59Z") }, "read"), "proceed");
    assert.equal(
      checkConditions(info, { ifUnmodifiedSinceMs: at("2026-12-07T10:00:00Z") }, "read"),
      "proceed",
    );
    assert.throws(
      () => checkConditions(info, { ifUnmodifiedSinceMs: at("2026-12-07T09:59:59Z") }, "read"),
      code("DFS_ERR_PRECONDITION"),
    );
    // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
    assert.equal(
      checkConditions(
        info,
        { ifMatch: '"0123abcd"', ifUnmodifiedSinceMs: at("2020-01-01T00:00:00Z") },
        "read",
      ),
      "proceed",
    );
    assert.equal(
      checkConditions(info, { ifNoneMatch: '"zz"', ifModifiedSinceMs: at("2030-01-01T00:00:00Z") }, "read"),
      "proceed",
    );
  });
});
