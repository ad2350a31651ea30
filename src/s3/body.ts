/**
 * A request body as the name service takes it: the raw bytes guarded against stalls, decoded from
 * aws-chunked when so framed, and checked against every digest the client sent (Content-MD5, the
 * signed x-amz-content-sha256, x-amz-checksum-* headers and trailers). A mismatch fails the body
 * as it ends, before the upload can complete, so nothing of it becomes visible.
 */
import type { IncomingMessage } from "node:http";
import { guardBody } from "../gateway/guards.ts";
import type { Sha256Check } from "../names/index.ts";
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
  /**
   * The body goes to a store, which computes its SHA-256 anyway (the file id): a SHA-256 the
   * client declared up front is handed to it as `expectSha256` instead of hashed here again.
   */
  deferSha256?: boolean;
}

export interface CheckedBody {
  body: AsyncIterable<Buffer>;
  /** The x-amz-checksum-* values verified, once the body has been read to its end (and stored, with `expectSha256`). */
  verified: Partial<Record<ChecksumName, string>>;
  /** With `deferSha256`: the SHA-256 the store must find, not checked by this body. */
  expectSha256?: Sha256Check | undefined;
}

const one = (h: ReadonlyMap<string, readonly string[]>, name: string) => h.get(name)?.[0];

interface Expectation {
  name: ChecksumName | "md5" | "sha256-hex";
  /** The value, or a function giving it once the trailers are read. */
  value: () => string | undefined;
  fail: () => Error;
  /** The value of an x-amz header, known before the body (a trailer's is not): deferredSha256 reads it. */
  header?: string;
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
      header: auth.payloadHash,
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
    out.push({ name: algorithm, value: () => values[0], fail: mismatch(name), header: values[0] });
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
  const expected = expectations(headers, auth, trailers);
  const verified: CheckedBody["verified"] = {};
  const deferred = options.deferSha256 ? deferredSha256(expected) : undefined;
  const wanted = deferred ? expected.filter((w) => !deferred.covers.includes(w)) : expected;
  if (deferred?.checksum !== undefined) verified.sha256 = deferred.checksum;
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
  return { body: body(), verified, expectSha256: deferred?.check };
}

/**
 * The SHA-256 expectations known from headers (the signed x-amz-content-sha256, an
 * x-amz-checksum-sha256 header) as one check for the store; undefined when there are none, or
 * when two of them disagree (then the body is hashed here and one of them fails as it ends).
 */
function deferredSha256(
  wanted: readonly Expectation[],
): { check: Sha256Check; covers: Expectation[]; checksum: string | undefined } | undefined {
  const covers = wanted.filter(
    (w) => (w.name === "sha256-hex" || w.name === "sha256") && w.header !== undefined,
  );
  const hexOf = (w: Expectation) =>
    w.name === "sha256" ? Buffer.from(w.header!, "base64").toString("hex") : w.header!;
  const first = covers[0];
  if (first === undefined || covers.some((w) => hexOf(w) !== hexOf(first))) return undefined;
  return {
    check: { hex: hexOf(first), mismatch: first.fail },
    covers,
    checksum: covers.find((w) => w.name === "sha256")?.header,
  };
}
