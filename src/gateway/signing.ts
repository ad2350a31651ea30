import { type Identity, MAX_CLOCK_SKEW_MS, sealedPart, signObject } from "../credentials/index.ts";
import type { OpenedManifest } from "../crypto/index.ts";
import { DfsError } from "../errors.ts";
import { headerBytesFor, parseManifestHeader } from "../formats/index.ts";

const TYPE_CODES = { manifest: 1, tombstone: 2 } as const;

/**
 * A sealed manifest or tombstone as the gateway stores it: with its signature trailer when the
 * gateway has an identity (src/credentials/object-signature.ts), so nodes can rank versions
 * without trusting whoever wrote them. Without an identity the sealed bytes go as they are.
 */
export function signSealed(identity: Identity | undefined, id: string, sealed: Buffer): Buffer {
  if (identity === undefined) return sealed;
  const header = parseManifestHeader(sealed);
  if (header === undefined || "need" in header) {
    throw new DfsError("DFS_ERR_INTERNAL", "refusing to sign what is not a sealed manifest");
  }
  const bytes = headerBytesFor(header.chunkIds.length);
  return signObject(
    identity,
    { id, type: TYPE_CODES[header.type], stamp: header.stamp, header: sealed.subarray(0, bytes) },
    sealed,
  );
}

/**
 * The sealed bytes of a stored copy (its trailer, if any, cut off); gateways authenticate them
 * with the cluster key, so they need not check the signature.
 */
export function storedSealed(stored: Buffer): Buffer {
  return sealedPart(stored);
}

/**
 * Refuses a version stamped further ahead of this gateway's clock than the allowed skew: no
 * gateway wrote it now, and ranked first it would hide every later write under its id.
 */
export function checkStamp(opened: OpenedManifest, nowMs = Date.now()): OpenedManifest {
  if (opened.stamp > nowMs + MAX_CLOCK_SKEW_MS) {
    throw new DfsError("DFS_ERR_CORRUPT", `manifest stamped ${opened.stamp}, ahead of this gateway's clock`);
  }
  return opened;
}
