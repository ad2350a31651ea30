import {
  canonicalRequest,
  MAX_PRESIGN_SECONDS,
  scopeString,
  signHex,
  signingKey,
  stringToSign,
  uriEncode,
} from "./sigv4.ts";

export interface PresignGet {
  /** "http://host:port" of the S3 listener, as the link's user will reach it (the Host header signed). */
  readonly endpoint: string;
  readonly bucket: string;
  readonly key: string;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
  readonly expiresSec: number;
  readonly nowMs: number;
}

const amzDateOf = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

/**
 * A presigned SigV4 GET URL of a key (path style, UNSIGNED-PAYLOAD): anyone holding it may read
 * that key until it expires, as the signing key could. The S3 listener checks it (auth.ts).
 */
export function presignGet(p: PresignGet): string {
  if (!Number.isInteger(p.expiresSec) || p.expiresSec < 1 || p.expiresSec > MAX_PRESIGN_SECONDS)
    throw new RangeError(`a presigned URL lives 1..${MAX_PRESIGN_SECONDS} seconds`);
  const url = new URL(p.endpoint);
  const amzDate = amzDateOf(p.nowMs);
  const scope = { accessKeyId: p.accessKeyId, date: amzDate.slice(0, 8), region: p.region, service: "s3" };
  const rawPath = `/${uriEncode(p.bucket, false)}/${uriEncode(p.key, true)}`;
  const query: [string, string][] = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${p.accessKeyId}/${scopeString(scope)}`],
    ["X-Amz-Date", amzDate],
    ["X-Amz-Expires", String(p.expiresSec)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const canonical = canonicalRequest({
    method: "GET",
    rawPath,
    query,
    headers: new Map([["host", [url.host]]]),
    signedHeaders: ["host"],
    payloadHash: "UNSIGNED-PAYLOAD",
  });
  const signature = signHex(
    signingKey(p.secret, scope),
    stringToSign(amzDate, scopeString(scope), canonical),
  );
  const search = [...query, ["X-Amz-Signature", signature]]
    .map(([k, v]) => `${uriEncode(k!, false)}=${uriEncode(v!, false)}`)
    .join("&");
  return `${url.protocol}//${url.host}${rawPath}?${search}`;
}
