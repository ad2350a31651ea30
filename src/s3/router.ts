/**
 * Which S3 call a request is: by method, whether it names a bucket and a key, and the query's
 * subresources. What is not built answers 501 NotImplemented, never a success that did nothing.
 */
import { requireAccess } from "./auth.ts";
import * as buckets from "./buckets.ts";
import { header, type S3Call, sendXml } from "./call.ts";
import { s3Error } from "./errors-xml.ts";
import * as listing from "./listing.ts";
import * as multipart from "./multipart.ts";
import * as objects from "./objects.ts";

/** Bucket subresources that configure features this store does not have. */
const BUCKET_FEATURES = [
  "accelerate",
  "analytics",
  "cors",
  "encryption",
  "intelligent-tiering",
  "inventory",
  "lifecycle",
  "logging",
  "metrics",
  "notification",
  "object-lock",
  "ownershipControls",
  "policy",
  "policyStatus",
  "publicAccessBlock",
  "replication",
  "requestPayment",
  "tagging",
  "website",
];
const OBJECT_FEATURES = [
  "tagging",
  "retention",
  "legal-hold",
  "torrent",
  "restore",
  "select",
  "attributes",
  "renameObject",
];

function notImplemented(what: string): never {
  throw s3Error("NotImplemented", `${what} is not implemented by this store`);
}

function featureOf(call: S3Call, features: readonly string[]): string | undefined {
  return features.find((f) => call.query.has(f));
}

export async function dispatch(call: S3Call): Promise<void> {
  const { method, bucket, key } = call;
  if (bucket === undefined) {
    if (method === "GET") return buckets.listBuckets(call);
    throw s3Error("MethodNotAllowed", "The specified method is not allowed against this resource.");
  }
  if (key === undefined) return bucketCall(call, bucket);
  return objectCall(call, bucket, key);
}

async function bucketCall(call: S3Call, bucket: string): Promise<void> {
  const feature = featureOf(call, BUCKET_FEATURES);
  switch (call.method) {
    case "GET":
      if (feature !== undefined) return notImplemented(`GET ?${feature}`);
      if (call.query.has("location")) return buckets.bucketLocation(call, bucket);
      if (call.query.has("versioning")) return buckets.bucketVersioning(call, bucket);
      if (call.query.has("acl")) return buckets.bucketAcl(call, bucket);
      if (call.query.has("uploads")) return multipart.listUploads(call, bucket);
      if (call.query.has("versions")) return listing.listObjectVersions(call, bucket);
      if (call.query.get("list-type") === "2") return listing.listObjectsV2(call, bucket);
      return listing.listObjectsV1(call, bucket);
    case "HEAD":
      return buckets.headBucket(call, bucket);
    case "PUT":
      if (feature !== undefined) return notImplemented(`PUT ?${feature}`);
      if (call.query.has("acl")) return notImplemented("PUT ?acl");
      if (call.query.has("versioning")) return notImplemented("versioning");
      return buckets.createBucket(call, bucket);
    case "DELETE":
      if (feature !== undefined) return notImplemented(`DELETE ?${feature}`);
      return buckets.deleteBucket(call, bucket);
    case "POST":
      if (call.query.has("delete")) return objects.deleteObjects(call, bucket);
      return notImplemented("this POST");
    default:
      throw s3Error("MethodNotAllowed", "The specified method is not allowed against this resource.");
  }
}

async function objectCall(call: S3Call, bucket: string, key: string): Promise<void> {
  const feature = featureOf(call, OBJECT_FEATURES);
  if (feature !== undefined) return notImplemented(`?${feature} on objects`);
  const upload = call.query.has("uploadId");
  const copy = header(call, "x-amz-copy-source") !== undefined;
  switch (call.method) {
    case "GET":
      if (call.query.has("acl")) {
        requireAccess(call.principal, bucket, "read");
        await call.deps.names.headObject(bucket, key);
        return sendXml(call, 200, buckets.aclDocument());
      }
      if (upload) return multipart.listParts(call, bucket, key);
      return objects.getObject(call, bucket, key);
    case "HEAD":
      return objects.getObject(call, bucket, key);
    case "PUT":
      if (call.query.has("acl")) return notImplemented("PUT ?acl");
      if (upload && copy) return multipart.uploadPartCopy(call, bucket, key);
      if (upload) return multipart.uploadPart(call, bucket, key);
      if (call.query.has("partNumber")) throw s3Error("InvalidRequest", "partNumber needs an uploadId");
      if (copy) return objects.copyObject(call, bucket, key);
      return objects.putObject(call, bucket, key);
    case "DELETE":
      if (upload) return multipart.abortUpload(call, bucket, key);
      return objects.deleteObject(call, bucket, key);
    case "POST":
      if (call.query.has("uploads")) return multipart.createUpload(call, bucket, key);
      if (upload) return multipart.completeUpload(call, bucket, key);
      return notImplemented("this POST");
    default:
      throw s3Error("MethodNotAllowed", "The specified method is not allowed against this resource.");
  }
}
