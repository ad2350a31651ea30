import { type Manifest, sha256Hex } from "../crypto/index.ts";
import { isDfsError, toDfsError } from "../errors.ts";
import { FILE_HOLDERS_TABLE } from "../names/index.ts";
import type { GatewayContext } from "./context.ts";
import { readManifestObject } from "./download/reader.ts";
import { signSealed } from "./signing.ts";
import { retractReferences, UploadHolds } from "./upload/holds.ts";
import { replicate } from "./upload/replicate.ts";

/** Whether any holder of the file with manifest id `id` is live (a quorum range read). */
export async function isHeld(ctx: GatewayContext, id: Buffer): Promise<boolean> {
  const page = await ctx.tables.range(FILE_HOLDERS_TABLE, id, { limit: 1 });
  return page.records.length > 0;
}

/** Writes a tombstone over a file's manifest (W of R); `stamp` newer than the manifest's. */
export async function writeTombstone(ctx: GatewayContext, hash: string, stamp: number): Promise<number> {
  const id = ctx.cipher.manifestId(hash);
  const sealed = signSealed(ctx.identity, id, ctx.cipher.sealTombstone(hash, stamp));
  const stored = await replicate(ctx, id, sealed, {
    kind: "manifest",
    checksum: sha256Hex(sealed),
    signal: new AbortController().signal,
  });
  return stored.length;
}

/** Writes a manifest again under a newer stamp, its chunks referenced first (as commit does). */
async function rewriteManifest(ctx: GatewayContext, manifest: Manifest, stamp: number): Promise<void> {
  const id = ctx.cipher.manifestId(manifest.hash);
  const again: Manifest = { ...manifest, createdAt: stamp };
  const sealed = signSealed(ctx.identity, id, ctx.cipher.sealManifest(again));
  const checksum = sha256Hex(sealed);
  const holds = new UploadHolds(ctx, () => {});
  await holds.reference(
    again.chunks.map((c) => c.id),
    checksum,
    id,
  );
  await replicate(ctx, id, sealed, { kind: "manifest", checksum, signal: new AbortController().signal });
}

/**
 * Retracts one holder of a file and deletes the file when no holder is left. Each side writes its
 * intent before it reads the other's: a holder is written before its file's manifest is read
 * (files.ts), and here the tombstone is written before the holders are read a second time, so a
 * put racing this release is seen by one side or the other. If a holder appeared, the manifest is
 * written again under a newer stamp. Only then are the old manifest version's chunk references
 * retracted. Returns whether the file was deleted.
 */
export async function releaseFile(ctx: GatewayContext, hash: string, holder: Buffer): Promise<boolean> {
  const id = Buffer.from(ctx.cipher.manifestId(hash), "hex");
  await ctx.tables.write([{ table: FILE_HOLDERS_TABLE, partitionKey: id, sortKey: holder, deleted: true }]);
  if (await isHeld(ctx, id)) {
    ctx.metrics.fileReleases.inc({ result: "kept" });
    return false;
  }
  let current: Awaited<ReturnType<typeof readManifestObject>>;
  try {
    current = await readManifestObject(ctx, hash);
  } catch (err) {
    if (isDfsError(err, "DFS_ERR_NOT_FOUND")) return false;
    throw err;
  }
  if (current.type === "tombstone") return false;
  const stamp = Math.max(Date.now(), current.stamp + 1);
  await writeTombstone(ctx, hash, stamp);
  const revived = await isHeld(ctx, id);
  if (revived) await rewriteManifest(ctx, current.manifest, stamp + 1);
  ctx.metrics.fileReleases.inc({ result: revived ? "revived" : "deleted" });
  // After the tombstone (or the manifest's new version), never before: a retraction alone could
  // free a visible file's chunks.
  await retractReferences(
    ctx,
    current.manifest.chunks.map((c) => c.id),
    current.version,
  ).catch((err: unknown) => {
    ctx.logger.warn(
      { hash, code: toDfsError(err).code },
      "a released file's chunk references could not be retracted: its chunks stay",
    );
  });
  return !revived;
}
