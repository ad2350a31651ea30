/**
 * AWS Signature Version 4 as S3 uses it: the canonical request, the string to sign, the signing
 * key, and the parsing of the Authorization header and of presigned query strings. Pure functions:
 * auth.ts applies them to a request.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { s3Error } from "./errors-xml.ts";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
export const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac("sha256", key).update(data, "utf8").digest();

/** What the Credential names: key id and scope. */
export interface CredentialScope {
  accessKeyId: string;
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export function scopeString(c: CredentialScope): string {
  return `${c.date}/${c.region}/${c.service}/aws4_request`;
}

/** The signature parts of a request, from its Authorization header or its query string. */
export interface SignatureClaim {
  credential: CredentialScope;
  signedHeaders: string[];
  signature: string;
  presigned?: { amzDate: string; expiresSec: number; payloadHash: string | undefined } | undefined;
}

function parseCredential(value: string, where: "header" | "query"): CredentialScope {
  const parts = value.split("/");
  const code = where === "header" ? "AuthorizationHeaderMalformed" : "AuthorizationQueryParametersError";
  if (parts.length !== 5 || parts[4] !== "aws4_request" || !/^\d{8}$/.test(parts[1]!) || parts[0] === "") {
    throw s3Error(code, `the Credential is malformed; expected "<key id>/YYYYMMDD/<region>/s3/aws4_request"`);
  }
  return { accessKeyId: parts[0]!, date: parts[1]!, region: parts[2]!, service: parts[3]! };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` (any order, spaces optional). */
export function parseAuthorizationHeader(value: string): SignatureClaim {
  if (!value.startsWith(`${ALGORITHM} `)) {
    throw s3Error("AuthorizationHeaderMalformed", `only ${ALGORITHM} signatures are supported`);
  }
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signed = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential === undefined || signed === undefined || signature === undefined || !HEX64.test(signature)) {
    throw s3Error(
      "AuthorizationHeaderMalformed",
      "the Authorization header needs Credential, SignedHeaders and Signature",
    );
  }
  return { credential: parseCredential(credential, "header"), signedHeaders: signed.split(";"), signature };
}

/** Seven days: the longest a presigned URL may live. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** The X-Amz-* parameters of a presigned URL (already decoded). */
export function parsePresignedQuery(q: ReadonlyMap<string, string>): SignatureClaim {
  const bad = (msg: string) => s3Error("AuthorizationQueryParametersError", msg);
  if (q.get("X-Amz-Algorithm") !== ALGORITHM) throw bad(`X-Amz-Algorithm must be ${ALGORITHM}`);
  const credential = q.get("X-Amz-Credential");
  const amzDate = q.get("X-Amz-Date");
  const expires = q.get("X-Amz-Expires");
  const signed = q.get("X-Amz-SignedHeaders");
  const signature = q.get("X-Amz-Signature");
  if (credential === undefined || amzDate === undefined || expires === undefined || signed === undefined) {
    throw bad("a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires and X-Amz-SignedHeaders");
  }
  if (signature === undefined || !HEX64.test(signature)) throw bad("X-Amz-Signature must be 64 hex digits");
  const expiresSec = Number(expires);
  if (!/^\d{1,7}$/.test(expires) || expiresSec < 1 || expiresSec > MAX_PRESIGN_SECONDS) {
    throw bad(`X-Amz-Expires must be from 1 to ${MAX_PRESIGN_SECONDS} seconds`);
  }
  return {
    credential: parseCredential(credential, "query"),
    signedHeaders: signed.split(";"),
    signature,
    presigned: { amzDate, expiresSec, payloadHash: q.get("X-Amz-Content-Sha256") },
  };
}

/** ISO 8601 basic (20150830T123600Z) to ms, or undefined. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isFinite(ms) ? ms : undefined;
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ (and "/" when asked). */
export function uriEncode(value: string, keepSlash: boolean): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Percent-decoding that leaves "+" alone and refuses malformed escapes. */
export function percentDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw s3Error("InvalidArgument", "the URL holds a malformed percent-encoding");
  }
}

/** S3's canonical URI: the path decoded once and encoded again (S3 does not normalise it). */
export function canonicalUri(rawPath: string): string {
  return uriEncode(percentDecode(rawPath), true);
}

/** The query's pairs, decoded, in the order sent. */
export function parseQuery(rawQuery: string): [string, string][] {
  if (rawQuery === "") return [];
  return rawQuery
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=");
      return eq < 0
        ? [percentDecode(p), ""]
        : [percentDecode(p.slice(0, eq)), percentDecode(p.slice(eq + 1))];
    });
}

/** Sorted by encoded name then value; `omit` (X-Amz-Signature of a presigned URL) left out. */
export function canonicalQuery(pairs: readonly (readonly [string, string])[], omit?: string): string {
  const encoded = pairs
    .filter(([k]) => k !== omit)
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const);
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join("&");
}

/** Header values by lower-case name, repeated headers joined with "," (from Node's rawHeaders). */
export function headerValues(rawHeaders: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const list = out.get(name) ?? [];
    list.push(rawHeaders[i + 1]!);
    out.set(name, list);
  }
  return out;
}

export function canonicalHeaders(
  values: ReadonlyMap<string, readonly string[]>,
  signed: readonly string[],
): string {
  return signed
    .map((name) => {
      const v = (values.get(name) ?? []).map((x) => x.trim().replace(/\s+/g, " ")).join(",");
      return `${name}:${v}\n`;
    })
    .join("");
}

export interface CanonicalParts {
  method: string;
  rawPath: string;
  query: readonly (readonly [string, string])[];
  omitFromQuery?: string | undefined;
  headers: ReadonlyMap<string, readonly string[]>;
  signedHeaders: readonly string[];
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalParts): string {
  return [
    p.method,
    canonicalUri(p.rawPath),
    canonicalQuery(p.query, p.omitFromQuery),
    canonicalHeaders(p.headers, p.signedHeaders),
    p.signedHeaders.join(";"),
    p.payloadHash,
  ].join("\n");
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join("\n");
}

export function signingKey(secret: string, c: Pick<CredentialScope, "date" | "region" | "service">): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, c.date), c.region), c.service), "aws4_request");
}

export const signHex = (key: Buffer, text: string): string => hmac(key, text).toString("hex");

/** Constant-time comparison of two hex signatures. */
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The string a chunk signature of aws-chunked signs: chained from the previous signature. */
export function chunkStringToSign(
  amzDate: string,
  scope: string,
  previous: string,
  chunkSha256: string,
): string {
  return ["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, EMPTY_SHA256, chunkSha256].join("\n");
}

/** The string the trailer signature signs: the trailer lines ("name:value\n" each) hashed. */
export function trailerStringToSign(
  amzDate: string,
  scope: string,
  previous: string,
  trailerSha256: string,
): string {
  return ["AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previous, trailerSha256].join("\n");
}
