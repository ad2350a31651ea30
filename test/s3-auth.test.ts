/**
 * SigV4 admission on its own, with a clock the test sets: the 15-minute skew window on both sides,
 * presigned URLs until and after their expiry, wrong secrets, unknown keys, a gateway without keys,
 * and S3 error documents as clients parse them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AccessKey, AccessKeyDirectory } from "../src/access/index.ts";
import { isDfsError } from "../src/errors.ts";
import { type AuthSettings, authenticate, KEYLESS, MAX_SKEW_MS, type SignedParts } from "../src/s3/auth.ts";
import { errorBody, s3CodeOf, s3Error } from "../src/s3/errors-xml.ts";
import {
  canonicalRequest,
  EMPTY_SHA256,
  headerValues,
  parseQuery,
  signHex,
  signingKey,
  stringToSign,
  uriEncode,
} from "../src/s3/sigv4.ts";

const KEY: AccessKey = {
  id: "DKTESTKEY00000000001",
  name: "t",
  secret: "s".repeat(40),
  grants: [{ bucket: "b", read: true, write: false, owner: false }],
  createdMs: 0,
};
const directory: AccessKeyDirectory = {
  lookup: async (id) => (id === KEY.id ? KEY : undefined),
  create: async () => KEY,
  list: async () => [KEY],
  allow: async () => KEY,
  remove: async () => false,
};
const AT = Date.UTC(2026, 11, 7, 12, 0, 0);
const AMZ_DATE = "20261207T120000Z";

function settings(now: number, keyed = true): AuthSettings {
  return { directory, keyed, region: "us-east-1", now: () => now };
}

/** A GET of /b/k signed in its header, as an SDK would. */
function signedGet(secret = KEY.secret, id = KEY.id): SignedParts {
  const raw = ["Host", "127.0.0.1:9000", "x-amz-date", AMZ_DATE, "x-amz-content-sha256", EMPTY_SHA256];
  const signed = ["host", "x-amz-content-sha256", "x-amz-date"];
  const scope = { date: "20261207", region: "us-east-1", service: "s3" };
  const canonical = canonicalRequest({
    method: "GET",
    rawPath: "/b/k",
    query: [],
    headers: headerValues(raw),
    signedHeaders: signed,
    payloadHash: EMPTY_SHA256,
  });
  const sig = signHex(
    signingKey(secret, scope),
    stringToSign(AMZ_DATE, "20261207/us-east-1/s3/aws4_request", canonical),
  );
  raw.push(
    "Authorization",
    `AWS4-HMAC-SHA256 Credential=${id}/20261207/us-east-1/s3/aws4_request, SignedHeaders=${signed.join(";")}, Signature=${sig}`,
  );
  return { method: "GET", rawPath: "/b/k", query: [], headers: headerValues(raw) };
}

/** A presigned GET of /b/k, valid for `expires` seconds from AMZ_DATE. */
function presignedGet(expires: number): SignedParts {
  const params: [string, string][] = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${KEY.id}/20261207/us-east-1/s3/aws4_request`],
    ["X-Amz-Date", AMZ_DATE],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const headers = headerValues(["Host", "127.0.0.1:9000"]);
  const canonical = canonicalRequest({
    method: "GET",
    rawPath: "/b/k",
    query: params,
    headers,
    signedHeaders: ["host"],
    payloadHash: "UNSIGNED-PAYLOAD",
  });
  const key = signingKey(KEY.secret, { date: "20261207", region: "us-east-1", service: "s3" });
  const sig = signHex(key, stringToSign(AMZ_DATE, "20261207/us-east-1/s3/aws4_request", canonical));
  const raw = [...params, ["X-Amz-Signature", sig]].map(([k, v]) => `${k}=${uriEncode(v!, false)}`).join("&");
  return { method: "GET", rawPath: "/b/k", query: parseQuery(raw), headers };
}

const refused = (code: string) => (err: unknown) => isDfsError(err) && s3CodeOf(err) === code;

describe("S3 admission", () => {
  test("a good signature admits the key, with what its chunks would chain from", async () => {
    const auth = await authenticate(signedGet(), settings(AT));
    assert.equal(auth.principal.kind, "access-key");
    assert.equal(auth.payloadHash, EMPTY_SHA256);
    assert.equal(auth.signer?.amzDate, AMZ_DATE);
  });

  test("the clock may be 15 minutes off either way, not a second more", async () => {
    await authenticate(signedGet(), settings(AT + MAX_SKEW_MS));
    await authenticate(signedGet(), settings(AT - MAX_SKEW_MS));
    await assert.rejects(
      authenticate(signedGet(), settings(AT + MAX_SKEW_MS + 1000)),
      refused("RequestTimeTooSkewed"),
    );
    await assert.rejects(
      authenticate(signedGet(), settings(AT - MAX_SKEW_MS - 1000)),
      refused("RequestTimeTooSkewed"),
    );
  });

  test("a wrong secret, an unknown key, a changed request", async () => {
    await assert.rejects(
      authenticate(signedGet("x".repeat(40)), settings(AT)),
      refused("SignatureDoesNotMatch"),
    );
    await assert.rejects(
      authenticate(signedGet(KEY.secret, "DKUNKNOWN00000000000"), settings(AT)),
      refused("InvalidAccessKeyId"),
    );
    const changed = { ...signedGet(), rawPath: "/b/other" };
    await assert.rejects(authenticate(changed, settings(AT)), refused("SignatureDoesNotMatch"));
    const unsigned = { method: "GET", rawPath: "/b/k", query: [], headers: headerValues(["Host", "h"]) };
    await assert.rejects(authenticate(unsigned, settings(AT)), refused("AccessDenied"));
  });

  test("a presigned URL works until it expires, and not after", async () => {
    await authenticate(presignedGet(600), settings(AT));
    await authenticate(presignedGet(600), settings(AT + 600_000));
    await assert.rejects(authenticate(presignedGet(600), settings(AT + 601_000)), (err: unknown) => {
      assert.ok(isDfsError(err));
      assert.equal(s3CodeOf(err), "AccessDenied");
      assert.match(err.message, /expired/);
      return true;
    });
    await assert.rejects(
      authenticate(presignedGet(604_801), settings(AT)),
      refused("AuthorizationQueryParametersError"),
    );
    await assert.rejects(
      authenticate(presignedGet(600), settings(AT - MAX_SKEW_MS - 1000)),
      refused("AccessDenied"),
    );
  });

  test("a gateway without keys admits every request, signed or not", async () => {
    const unsigned = { method: "GET", rawPath: "/b/k", query: [], headers: headerValues(["Host", "h"]) };
    assert.deepEqual((await authenticate(unsigned, settings(AT, false))).principal, KEYLESS);
    assert.deepEqual(
      (await authenticate(signedGet("x".repeat(40)), settings(AT + 3_600_000, false))).principal,
      KEYLESS,
    );
  });
});

describe("S3 error documents", () => {
  test("a bare <Error> (no namespace) with code, message, resource and request id", () => {
    const body = errorBody(
      s3Error("NoSuchBucket", "The specified bucket does not exist", "DFS_ERR_NOT_FOUND"),
      "REQ1",
      "/b",
    );
    assert.equal(body.status, 404);
    assert.equal(
      body.xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><Resource>/b</Resource><RequestId>REQ1</RequestId><HostId>REQ1</HostId></Error>',
    );
  });
  test("an internal error says nothing of its cause", () => {
    const body = errorBody(new Error("secret path /var/x"), "R", "/");
    assert.equal(body.status, 500);
    assert.equal(body.code, "InternalError");
    assert.doesNotMatch(body.xml, /secret/);
  });
});
