/** The S3 API on its own port (ARCHITECTURE.md, "S3 API"): started beside /v1 by the gateway command. */
export { KEYLESS, MAX_SKEW_MS } from "./auth.ts";
export { type S3Listener, type S3Options, s3Handler, startS3Listener } from "./listener.ts";
export { type PresignGet, presignGet } from "./presign.ts";
export { startS3Beside } from "./serve.ts";
/** SigV4's canonical request and signing, for clients that sign in-process (bench/lib/sigv4.ts). */
export {
  canonicalQuery,
  canonicalRequest,
  EMPTY_SHA256,
  scopeString,
  signHex,
  signingKey,
  stringToSign,
} from "./sigv4.ts";
