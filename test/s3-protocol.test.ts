/**
 * The S3 listener's protocol pieces on their own: SigV4 against AWS's published examples, the
 * aws-chunked decoder (signed, unsigned, trailers, a bad chunk signature, a truncated body), CRC-32C
 * against known vectors, and the XML writer's escaping.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { crc32c, newDigest } from "../src/s3/checksums.ts";
import { type ChunkedOptions, decodeAwsChunked } from "../src/s3/chunked-body.ts";
import { s3CodeOf } from "../src/s3/errors-xml.ts";
import {
  canonicalRequest,
  EMPTY_SHA256,
  headerValues,
  parseAuthorizationHeader,
  parseQuery,
  scopeString,
  signHex,
  signingKey,
  stringToSign,
} from "../src/s3/sigv4.ts";
import { escapeXml, xmlDocument } from "../src/s3/xml.ts";

// AWS's SigV4 test suite credentials ("get-vanilla" and friends).
const SUITE = {
  secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  date: "20150830",
  region: "us-east-1",
  service: "service",
};

function suiteSignature(method: string, rawPath: string, rawQuery: string): string {
  const headers = headerValues(["Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z"]);
  const canonical = canonicalRequest({
    method,
    rawPath,
    query: parseQuery(rawQuery),
    headers,
    signedHeaders: ["host", "x-amz-date"],
    payloadHash: EMPTY_SHA256,
  });
  const sts = stringToSign(
    "20150830T123600Z",
    scopeString({ accessKeyId: "AKIDEXAMPLE", ...SUITE }),
    canonical,
  );
  return signHex(signingKey(SUITE.secret, SUITE), sts);
}

describe("SigV4", () => {
  test("get-vanilla", () => {
    assert.equal(
      suiteSignature("GET", "/", ""),
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
  });
  test("get-vanilla-query-order-key-case: the query is sorted", () => {
    assert.equal(
      suiteSignature("GET", "/", "Param2=value2&Param1=value1"),
      "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
  });
  test("post-vanilla", () => {
    assert.equal(
      suiteSignature("POST", "/", ""),
      "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
  });

  // S3's documented GET Object example (examplebucket, Range: bytes=0-9).
  const S3_EXAMPLE = {
    secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    date: "20130524",
    region: "us-east-1",
    service: "s3",
  };
  test("the S3 GetObject example", () => {
    const headers = headerValues([
      "Host",
      "examplebucket.s3.amazonaws.com",
      "Range",
      "bytes=0-9",
      "x-amz-content-sha256",
      EMPTY_SHA256,
      "x-amz-date",
      "20130524T000000Z",
    ]);
    const canonical = canonicalRequest({
      method: "GET",
      rawPath: "/test.txt",
      query: [],
      headers,
      signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
      payloadHash: EMPTY_SHA256,
    });
    const sts = stringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", canonical);
    assert.equal(
      signHex(signingKey(S3_EXAMPLE.secret, S3_EXAMPLE), sts),
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });
  test("the S3 presigned URL example", () => {
    const query = parseQuery(
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
    const canonical = canonicalRequest({
      method: "GET",
      rawPath: "/test.txt",
      query,
      omitFromQuery: "X-Amz-Signature",
      headers: headerValues(["Host", "examplebucket.s3.amazonaws.com"]),
      signedHeaders: ["host"],
      payloadHash: "UNSIGNED-PAYLOAD",
    });
    const sts = stringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", canonical);
    assert.equal(
      signHex(signingKey(S3_EXAMPLE.secret, S3_EXAMPLE), sts),
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });
  test("the Authorization header is parsed, and a malformed one refused", () => {
    const claim = parseAuthorizationHeader(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date, Signature=${"a".repeat(64)}`,
    );
    assert.deepEqual(claim.credential, {
      accessKeyId: "AKIDEXAMPLE",
      date: "20150830",
      region: "us-east-1",
      service: "s3",
    });
    assert.deepEqual(claim.signedHeaders, ["host", "x-amz-date"]);
    assert.throws(
      () => parseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=x"),
      (e) => s3CodeOf(e) === "AuthorizationHeaderMalformed",
    );
    assert.throws(
      () => parseAuthorizationHeader("AWS AKID:sig"),
      (e) => s3CodeOf(e) === "AuthorizationHeaderMalformed",
    );
  });
});

// The streaming examples of the S3 docs: 66,560 bytes of "a" in chunks of 64 KiB and 1 KiB.
const STREAM = {
  key: signingKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", {
    date: "20130524",
    region: "us-east-1",
    service: "s3",
  }),
  amzDate: "20130524T000000Z",
  scope: "20130524/us-east-1/s3/aws4_request",
};
const SIGNED = {
  seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
  chunks: [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
  ],
};
const SIGNED_TRAILER = {
  seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
  chunks: [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
  ],
  trailer:
    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
};

function encode(sizes: number[], signatures: string[] | undefined, trailer: string): Buffer {
  const parts: Buffer[] = [];
  sizes.forEach((size, i) => {
    const sig = signatures === undefined ? "" : `;chunk-signature=${signatures[i]}`;
    parts.push(Buffer.from(`${size.toString(16)}${sig}\r\n`), Buffer.alloc(size, "a"));
    if (size > 0) parts.push(Buffer.from("\r\n"));
  });
  parts.push(Buffer.from(`${trailer}\r\n`));
  return Buffer.concat(parts);
}

/** The body fed in pieces of `piece` bytes, as a socket would. */
async function decode(
  body: Buffer,
  options: ChunkedOptions,
  piece = 1000,
): Promise<{ bytes: Buffer; trailers: Map<string, string> }> {
  async function* source() {
    for (let i = 0; i < body.length; i += piece) yield body.subarray(i, i + piece);
  }
  const trailers = new Map<string, string>();
  const out: Buffer[] = [];
  for await (const p of decodeAwsChunked(source(), options, trailers)) out.push(p);
  return { bytes: Buffer.concat(out), trailers };
}

const failsWith = (code: string) => (err: unknown) => isDfsError(err) && s3CodeOf(err) === code;

describe("aws-chunked", () => {
  const sizes = [65536, 1024, 0];
  test("the documented signed body decodes, every chunk signature checked", async () => {
    const body = encode(sizes, SIGNED.chunks, "");
    assert.equal(body.length, 66824);
    const { bytes } = await decode(
      body,
      { signedChunks: true, trailer: false, signer: { ...STREAM, seed: SIGNED.seed }, decodedLength: 66560 },
      777,
    );
    assert.deepEqual(bytes, Buffer.alloc(66560, "a"));
  });
  test("the documented signed body with a trailer: chunk and trailer signatures checked", async () => {
    const body = encode(sizes, SIGNED_TRAILER.chunks, SIGNED_TRAILER.trailer);
    const { bytes, trailers } = await decode(body, {
      signedChunks: true,
      trailer: true,
      signer: { ...STREAM, seed: SIGNED_TRAILER.seed },
      decodedLength: 66560,
    });
    assert.equal(bytes.length, 66560);
    assert.equal(trailers.get("x-amz-checksum-crc32c"), "sOO8/Q==");
    const crc = newDigest("crc32c");
    crc.update(bytes);
    assert.equal(crc.base64(), "sOO8/Q==");
  });
  test("a bad trailer signature fails the body", async () => {
    const body = encode(sizes, SIGNED_TRAILER.chunks, SIGNED_TRAILER.trailer.replace("sOO8", "sOO9"));
    await assert.rejects(
      decode(body, { signedChunks: true, trailer: true, signer: { ...STREAM, seed: SIGNED_TRAILER.seed } }),
      failsWith("SignatureDoesNotMatch"),
    );
  });
  test("a bad chunk signature fails the body, and so does a changed byte", async () => {
    const wrong = [...SIGNED.chunks];
    wrong[1] = "0".repeat(64);
    const options = { signedChunks: true, trailer: false, signer: { ...STREAM, seed: SIGNED.seed } };
    await assert.rejects(decode(encode(sizes, wrong, ""), options), failsWith("SignatureDoesNotMatch"));
    const body = encode(sizes, SIGNED.chunks, "");
    body[body.indexOf("\r\n") + 2 + 5000] = "b".charCodeAt(0);
    await assert.rejects(decode(body, options), failsWith("SignatureDoesNotMatch"));
  });
  test("unsigned chunks with a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)", async () => {
    const body = Buffer.from("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n");
    const { bytes, trailers } = await decode(
      body,
      { signedChunks: false, trailer: true, decodedLength: 3 },
      1,
    );
    assert.equal(bytes.toString(), "abc");
    assert.equal(trailers.get("x-amz-checksum-crc32"), "NSRBwg==");
    const crc = newDigest("crc32");
    crc.update(bytes);
    assert.equal(crc.base64(), "NSRBwg==");
  });
  test("a truncated body fails with IncompleteBody, wherever it is cut", async () => {
    const body = encode(sizes, SIGNED.chunks, "");
    const options = { signedChunks: true, trailer: false, signer: { ...STREAM, seed: SIGNED.seed } };
    for (const cut of [10, 100, 65000, 66700, body.length - 3, body.length - 1]) {
      await assert.rejects(
        decode(body.subarray(0, cut), options),
        failsWith("IncompleteBody"),
        `cut at ${cut}`,
      );
    }
  });
  test("a decoded length that disagrees, a garbled header, and bytes after the end are refused", async () => {
    const body = Buffer.from("3\r\nabc\r\n0\r\n\r\n");
    await assert.rejects(
      decode(body, { signedChunks: false, trailer: false, decodedLength: 4 }),
      failsWith("IncompleteBody"),
    );
    await assert.rejects(
      decode(body, { signedChunks: false, trailer: false, decodedLength: 2 }),
      failsWith("InvalidRequest"),
    );
    await assert.rejects(
      decode(Buffer.from("zz\r\nabc\r\n0\r\n\r\n"), { signedChunks: false, trailer: false }),
      failsWith("InvalidRequest"),
    );
    await assert.rejects(
      decode(Buffer.from("3\r\nabc\r\n0\r\n\r\nextra"), { signedChunks: false, trailer: false }),
      failsWith("InvalidRequest"),
    );
    await assert.rejects(
      decode(Buffer.from("3\r\nabcX\r\n0\r\n\r\n"), { signedChunks: false, trailer: false }),
      failsWith("InvalidRequest"),
    );
  });
});

describe("checksums and XML", () => {
  test("CRC-32C against known vectors (RFC 3720 and the check value)", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    // Continued in pieces it is the same as at once.
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    assert.equal(crc32c(data.subarray(300), crc32c(data.subarray(0, 300))), crc32c(data));
  });
  test("CRC-64/NVME against its check value, whole and in pieces", () => {
    const whole = newDigest("crc64nvme");
    whole.update(Buffer.from("123456789"));
    assert.equal(Buffer.from(whole.base64(), "base64").toString("hex"), "ae8b14860a799888");
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 13) % 256));
    const a = newDigest("crc64nvme");
    a.update(data);
    const b = newDigest("crc64nvme");
    b.update(data.subarray(0, 333));
    b.update(data.subarray(333));
    assert.equal(a.base64(), b.base64());
  });
  test("XML text is escaped", () => {
    assert.equal(escapeXml(`a<b>&"c'`), "a&lt;b&gt;&amp;&quot;c&apos;");
    assert.equal(
      xmlDocument("R", [["Key", "<&>"], undefined, ["N", [["X", 1]]]]),
      `<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Key>&lt;&amp;&gt;</Key><N><X>1</X></N></R>`,
    );
  });
});
