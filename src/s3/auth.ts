/**
 * Who sent an S3 request: its SigV4 signature (Authorization header or presigned query) checked
 * against the secret the AccessKeyDirectory holds for its key id, within 15 minutes of our clock.
 * A gateway without keys (loopback, or `anonymous`) admits every S3 request as it admits every /v1
 * request, whatever credentials it carries: nothing is checked but the body's own digests.
 */

import type { AccessKey, AccessKeyDirectory, BucketAction, Principal } from "../access/index.ts";
import { canAccess } from "../access/index.ts";
import type { ChunkSigner } from "./chunked-body.ts";
import { s3Error } from "./errors-xml.ts";
import {
  canonicalRequest,
  parseAmzDate,
  parseAuthorizationHeader,
  parsePresignedQuery,
  type SignatureClaim,
  sameSignature,
  scopeString,
  signHex,
  signingKey,
  stringToSign,
} from "./sigv4.ts";

/** How far a request's date may be from our clock (S3's own window). */
export const MAX_SKEW_MS = 15 * 60_000;

export interface AuthSettings {
  directory: AccessKeyDirectory;
  /** Whether the gateway has keys: then every S3 request must be signed by a known access key. */
  keyed: boolean;
  region: string;
  now: () => number;
}

/** The parts of a request a signature covers. */
export interface SignedParts {
  method: string;
  rawPath: string;
  query: readonly (readonly [string, string])[];
  headers: ReadonlyMap<string, readonly string[]>;
}

export interface Authenticated {
  principal: Principal;
  /** x-amz-content-sha256 (or UNSIGNED-PAYLOAD): what the body must hash to, or how it is framed. */
  payloadHash: string;
  /** For aws-chunked bodies: what their chunk signatures chain from (absent when not checkable). */
  signer?: ChunkSigner | undefined;
}

export const KEYLESS: Principal = { kind: "configured", name: undefined, admin: true };

const one = (h: ReadonlyMap<string, readonly string[]>, name: string): string | undefined => h.get(name)?.[0];

function claimOf(parts: SignedParts): SignatureClaim | undefined {
  const auth = one(parts.headers, "authorization");
  const presigned = parts.query.some(([k]) => k === "X-Amz-Algorithm" || k === "X-Amz-Signature");
  if (auth !== undefined && presigned) {
    throw s3Error("InvalidArgument", "a request may be signed in its header or in its query, not both");
  }
  if (auth !== undefined) return parseAuthorizationHeader(auth);
  if (presigned) return parsePresignedQuery(new Map(parts.query.map(([k, v]) => [k, v] as [string, string])));
  return undefined;
}

function checkTime(claim: SignatureClaim, parts: SignedParts, now: number): string {
  const amzDate = claim.presigned?.amzDate ?? one(parts.headers, "x-amz-date");
  const at = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || at === undefined) {
    throw s3Error(
      "AccessDenied",
      "a signed request needs an X-Amz-Date in ISO 8601 basic form",
      "DFS_ERR_FORBIDDEN",
    );
  }
  if (!amzDate.startsWith(claim.credential.date)) {
    throw s3Error(
      "SignatureDoesNotMatch",
      "the Credential's date is not the request's date",
      "DFS_ERR_FORBIDDEN",
    );
  }
  if (claim.presigned !== undefined) {
    if (at - now > MAX_SKEW_MS) {
      throw s3Error("AccessDenied", "the presigned URL is not valid yet", "DFS_ERR_FORBIDDEN");
    }
    if (now > at + claim.presigned.expiresSec * 1000) {
      throw s3Error("AccessDenied", "Request has expired", "DFS_ERR_FORBIDDEN");
    }
  } else if (Math.abs(at - now) > MAX_SKEW_MS) {
    throw s3Error(
      "RequestTimeTooSkewed",
      "The difference between the request time and the server's time is too large.",
      "DFS_ERR_FORBIDDEN",
    );
  }
  return amzDate;
}

/** Checks the request's signature; throws an S3 error (403 mostly) when it does not hold. */
export async function authenticate(parts: SignedParts, settings: AuthSettings): Promise<Authenticated> {
  const declared = one(parts.headers, "x-amz-content-sha256");
  if (!settings.keyed) return { principal: KEYLESS, payloadHash: declared ?? "UNSIGNED-PAYLOAD" };
  const claim = claimOf(parts);
  if (claim === undefined) {
    throw s3Error("AccessDenied", "Access Denied: this S3 API needs signed requests", "DFS_ERR_UNAUTHORIZED");
  }
  const c = claim.credential;
  if (c.service !== "s3" || c.region !== settings.region) {
    throw s3Error(
      "AuthorizationHeaderMalformed",
      `the Credential's scope must be <date>/${settings.region}/s3/aws4_request, not ${c.date}/${c.region}/${c.service}`,
    );
  }
  if (!claim.signedHeaders.includes("host")) {
    throw s3Error("AuthorizationHeaderMalformed", "the host header must be signed");
  }
  const amzDate = checkTime(claim, parts, settings.now());
  const key: AccessKey | undefined = await settings.directory.lookup(c.accessKeyId);
  if (key === undefined) {
    throw s3Error(
      "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.",
      "DFS_ERR_FORBIDDEN",
    );
  }
  let payloadHash: string;
  if (claim.presigned !== undefined) payloadHash = claim.presigned.payloadHash ?? "UNSIGNED-PAYLOAD";
  else if (declared !== undefined) payloadHash = declared;
  else throw s3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
  const canonical = canonicalRequest({
    method: parts.method,
    rawPath: parts.rawPath,
    query: parts.query,
    omitFromQuery: claim.presigned === undefined ? undefined : "X-Amz-Signature",
    headers: parts.headers,
    signedHeaders: claim.signedHeaders,
    payloadHash,
  });
  const scope = scopeString(c);
  const signing = signingKey(key.secret, c);
  if (!sameSignature(signHex(signing, stringToSign(amzDate, scope, canonical)), claim.signature)) {
    throw s3Error(
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      "DFS_ERR_FORBIDDEN",
    );
  }
  return {
    principal: { kind: "access-key", key },
    payloadHash,
    signer: { key: signing, amzDate, scope, seed: claim.signature },
  };
}

export function requireAccess(principal: Principal, bucket: string, action: BucketAction): void {
  if (!canAccess(principal, bucket, action)) {
    throw s3Error(
      "AccessDenied",
      `Access Denied: no ${action} grant on bucket ${bucket}`,
      "DFS_ERR_FORBIDDEN",
    );
  }
}
