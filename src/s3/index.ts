export { KEYLESS, MAX_SKEW_MS } from "./auth.ts";
export { type S3Listener, type S3Options, s3Handler, startS3Listener } from "./listener.ts";
