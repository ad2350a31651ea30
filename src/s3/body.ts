/**
 * A request body as the name service takes it: the raw bytes guarded against stalls, decoded from
 * aws-chunked when so framed, and checked against every digest the client sent (Content-MD5, the
 * signed x-amz-content-sha256, x-amz-checksum-* headers and trailers). A mismatch fails the body
 * as it ends, before the upload can complete, so nothing of it becomes visible.
 */
import type { IncomingMessage } from "node:http";
import { guardBody } from "../gateway/guards.ts";
import type { Authenticated } from "./auth.ts";
import { CHECKSUM_NAMES, type ChecksumName, type Digest, isChecksumName, newDigest } from "./checksums.ts";
import { decodeAwsChunked } from "./chunked-body.ts";
import { s3Error } from "./errors-xml.ts";

const STREAMING = new Set([
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
  "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
]);

/** x-amz-checksum-* headers that name no digest of this body. */
const NOT_DIGESTS = new Set(["x-amz-checksum-type", "x-amz-checksum-algorithm", "x-amz-checksum-mode"]);

export interface BodyOptions {
  idleTimeoutMs: number;
  onStall: () => void;
  maxBytes: number;
}

export interface CheckedBody {
  body: AsyncIterable<Buffer>;
  /** The x-amz-checksum-* values verified, once the body has been read to its end. */
  verified: Partial<Record<ChecksumName, string>>;
}

const one = (h: ReadonlyMap<string, readonly string[]>, name: string) => h.get(name)?.[0];

interface Expectation {
  name: ChecksumName | "md5" | "sha256-hex";
  /** The value, or a function giving it once the trailers are read. */
  value: () => string | undefined;
  fail: () => Error;
}

function checksumHeader(name: string): ChecksumName {
  const algorithm = name.slice("x-amz-checksum-".length);
  if (!isChecksumName(algorithm)) {
    throw s3Error("InvalidRequest", `${name} is not supported; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256`);
  }
  return algorithm;
}

const mismatch = (what: string) => () =>
  s3Error("BadDigest", `The ${what} you specified did not match the calculated checksum.`);

function expectations(
  headers: ReadonlyMap<string, readonly string[]>,
  auth: Authenticated,
  trailers: Map<string, string>,
): Expectation[] {
  const out: Expectation[] = [];
  const md5 = one(headers, "content-md5");
  if (md5 !== undefined) {
    if (Buffer.from(md5, "base64").length !== 16)
      throw s3Error("InvalidDigest", "The Content-MD5 you specified is not valid.");
    out.push({ name: "md5", value: () => md5, fail: mismatch("Content-MD5") });
  }
  if (/^[0-9a-f]{64}$/.test(auth.payloadHash)) {
    out.push({
      name: "sha256-hex",
      value: () => auth.payloadHash,
      fail: () =>
        s3Error(
          "XAmzContentSHA256Mismatch",
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
    });
  }
  for (const [name, values] of headers) {
    if (!name.startsWith("x-amz-checksum-") || NOT_DIGESTS.has(name)) continue;
    const algorithm = checksumHeader(name);
    out.push({ name: algorithm, value: () => values[0], fail: mismatch(name) });
  }
  const announced = one(headers, "x-amz-trailer");
  if (announced !== undefined) {
    for (const raw of announced.split(",")) {
      const name = raw.trim().toLowerCase();
      if (!name.startsWith("x-amz-checksum-")) continue;
      const algorithm = checksumHeader(name);
      out.push({
        name: algorithm,
        value: () => {
          const v = trailers.get(name);
          if (v === undefined)
            throw s3Error("InvalidRequest", `the trailer ${name} was announced but not sent`);
          return v;
        },
        fail: mismatch(name),
      });
    }
  }
  return out;
}

export function checkedBody(
  req: IncomingMessage,
  headers: ReadonlyMap<string, readonly string[]>,
  auth: Authenticated,
  options: BodyOptions,
): CheckedBody {
  const payload = auth.payloadHash;
  const streaming = payload.startsWith("STREAMING-");
  if (streaming && !STREAMING.has(payload))
    throw s3Error("NotImplemented", `x-amz-content-sha256 ${payload} is not supported`);
  const decodedHeader = one(headers, "x-amz-decoded-content-length");
  const declared = Number(streaming ? decodedHeader : one(headers, "content-length"));
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    throw s3Error(
      "EntityTooLarge",
      `Your proposed upload exceeds the maximum allowed size (${options.maxBytes} bytes)`,
      "DFS_ERR_TOO_LARGE",
    );
  }
  const trailers = new Map<string, string>();
  const wanted = expectations(headers, auth, trailers);
  const guarded = guardBody(req as AsyncIterable<Buffer>, options.idleTimeoutMs, options.onStall);
  const source = streaming
    ? decodeAwsChunked(
        guarded,
        {
          signedChunks: payload !== "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          trailer: payload.endsWith("-TRAILER"),
          signer: auth.signer,
          decodedLength: decodedHeader === undefined ? undefined : Number(decodedHeader),
        },
        trailers,
      )
    : guarded;
  const verified: CheckedBody["verified"] = {};
  async function* body(): AsyncGenerator<Buffer> {
    const digests = new Map<string, Digest>();
    for (const w of wanted) {
      const algorithm = w.name === "sha256-hex" ? "sha256" : w.name;
      if (!digests.has(algorithm)) digests.set(algorithm, newDigest(algorithm));
    }
    let total = 0;
    for await (const piece of source) {
      total += piece.length;
      if (total > options.maxBytes) {
        throw s3Error(
          "EntityTooLarge",
          `Your upload exceeds the maximum allowed size (${options.maxBytes} bytes)`,
          "DFS_ERR_TOO_LARGE",
        );
      }
      for (const d of digests.values()) d.update(piece);
      yield piece;
    }
    const results = new Map([...digests].map(([k, d]) => [k, d.base64()]));
    for (const w of wanted) {
      const want = w.value();
      const got =
        w.name === "sha256-hex"
          ? Buffer.from(results.get("sha256")!, "base64").toString("hex")
          : results.get(w.name);
      if (want !== got) throw w.fail();
      if ((CHECKSUM_NAMES as readonly string[]).includes(w.name)) verified[w.name as ChecksumName] = got;
    }
  }
  return { body: body(), verified };
}
