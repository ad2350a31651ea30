/** Bucket calls: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, and the fixed documents. */
import { canSee } from "../access/index.ts";
import { isDfsError } from "../errors.ts";
import { requireAccess } from "./auth.ts";
import { type S3Call, sendEmpty, sendXml, xmlRequest } from "./call.ts";
import { s3Error } from "./errors-xml.ts";
import { isoTime, S3_NS, xmlDocument } from "./xml.ts";

/** The one owner every bucket reports: the store has no per-user ownership. */
export const OWNER = [
  ["ID", "dfs-mesh"],
  ["DisplayName", "dfs-mesh"],
] as [string, string][];

export async function listBuckets(call: S3Call): Promise<void> {
  const buckets = await call.deps.names.listBuckets();
  const visible = buckets.filter((b) => canSee(call.principal, b.name));
  sendXml(
    call,
    200,
    xmlDocument("ListAllMyBucketsResult", [
      ["Owner", OWNER],
      [
        "Buckets",
        visible.map((b) => [
          "Bucket",
          [
            ["Name", b.name],
            ["CreationDate", isoTime(b.createdMs)],
          ],
        ]),
      ],
    ]),
  );
}

export async function createBucket(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "owner");
  const parsed = await xmlRequest<{ CreateBucketConfiguration?: { LocationConstraint?: unknown } }>(
    call,
    [],
    64 * 1024,
  );
  if (parsed !== undefined) {
    const location = parsed.CreateBucketConfiguration?.LocationConstraint;
    if (location !== undefined && location !== "" && location !== call.deps.region) {
      throw s3Error(
        "InvalidArgument",
        `this store serves region ${call.deps.region}; the LocationConstraint ${String(location)} is not it`,
      );
    }
  }
  try {
    await call.deps.names.createBucket(bucket);
  } catch (err) {
    if (isDfsError(err, "DFS_ERR_INVALID_NAME")) throw s3Error("InvalidBucketName", err.message);
    throw err;
  }
  sendEmpty(call, 200, { location: `/${bucket}` });
}

export async function headBucket(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  await call.deps.names.headBucket(bucket);
  sendEmpty(call, 200, { "x-amz-bucket-region": call.deps.region });
}

export async function deleteBucket(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "owner");
  await call.deps.names.deleteBucket(bucket);
  sendEmpty(call, 204);
}

export async function bucketLocation(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  await call.deps.names.headBucket(bucket);
  // S3 names us-east-1 with an empty constraint; clients map it back.
  const region = call.deps.region === "us-east-1" ? "" : call.deps.region;
  sendXml(
    call,
    200,
    xmlDocument("LocationConstraint", []).replace(
      "></LocationConstraint>",
      `>${region}</LocationConstraint>`,
    ),
  );
}

/** Versioning was never enabled: the empty configuration says so. */
export async function bucketVersioning(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  await call.deps.names.headBucket(bucket);
  sendXml(call, 200, xmlDocument("VersioningConfiguration", []));
}

/** The one ACL there is: the owner has full control. */
export function aclDocument(): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${S3_NS}">` +
    "<Owner><ID>dfs-mesh</ID><DisplayName>dfs-mesh</DisplayName></Owner><AccessControlList>" +
    '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">' +
    "<ID>dfs-mesh</ID><DisplayName>dfs-mesh</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>" +
    "</AccessControlList></AccessControlPolicy>"
  );
}

export async function bucketAcl(call: S3Call, bucket: string): Promise<void> {
  requireAccess(call.principal, bucket, "read");
  await call.deps.names.headBucket(bucket);
  sendXml(call, 200, aclDocument());
}
