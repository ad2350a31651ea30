import {
  canonicalQuery,
  canonicalRequest,
  scopeString,
  signHex,
  signingKey,
  stringToSign,
} from "../../src/s3/index.ts";

/**
 * The bench's S3 client signer: AWS Signature Version 4 in the Authorization header, as SDKs send
 * it, built from the gateway's own canonical-request functions (src/s3/sigv4.ts), so a signature the
 * gateway refuses fails the run. Signed headers: host, x-amz-content-sha256, x-amz-date.
 */
export interface S3Credentials {
  accessKeyId: string;
  secret: string;
  region: string;
}

export interface S3Request {
  method: "GET" | "PUT" | "HEAD" | "DELETE";
  /** `/bucket/key`, already URI-encoded (the bench's keys need no encoding). */
  path: string;
  query?: readonly (readonly [string, string])[];
  /** sha256 hex of the body, or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
  /** Other headers, sent but not signed (content-length, content-type). */
  headers?: Record<string, string>;
}

/** ISO 8601 basic: 20261207T213000Z. */
const amzDateOf = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

export class SigV4Signer {
  readonly #c: S3Credentials;
  readonly #host: string;
  /** The signing key of the current day: four HMACs, made once a day as SDKs cache it. */
  #key: { date: string; key: Buffer } | undefined;

  constructor(credentials: S3Credentials, url: string) {
    this.#c = credentials;
    this.#host = new URL(url).host;
  }

  /** The path with its query, and every header to send (host included: undici sends it as given). */
  sign(r: S3Request, now = Date.now()): { path: string; headers: Record<string, string> } {
    const amzDate = amzDateOf(now);
    const date = amzDate.slice(0, 8);
    if (this.#key?.date !== date) {
      this.#key = { date, key: signingKey(this.#c.secret, { date, region: this.#c.region, service: "s3" }) };
    }
    const signed: [string, string][] = [
      ["host", this.#host],
      ["x-amz-content-sha256", r.payloadHash],
      ["x-amz-date", amzDate],
    ];
    const query = r.query ?? [];
    const canonical = canonicalRequest({
      method: r.method,
      rawPath: r.path,
      query,
      headers: new Map(signed.map(([k, v]) => [k, [v]])),
      signedHeaders: signed.map(([k]) => k),
      payloadHash: r.payloadHash,
    });
    const scope = scopeString({
      accessKeyId: this.#c.accessKeyId,
      date,
      region: this.#c.region,
      service: "s3",
    });
    const signature = signHex(this.#key.key, stringToSign(amzDate, scope, canonical));
    const authorization =
      `AWS4-HMAC-SHA256 Credential=${this.#c.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signed.map(([k]) => k).join(";")}, Signature=${signature}`;
    const q = query.length === 0 ? "" : `?${canonicalQuery(query)}`;
    return {
      path: `${r.path}${q}`,
      headers: { ...r.headers, ...Object.fromEntries(signed), authorization },
    };
  }
}
