import type { Manifest } from "../../crypto/index.ts";
import { DfsError, type ErrorCode, isDfsError, toDfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import type { ChunkRef } from "../upload/ingest.ts";

/**
 * How many nodes, in placement order, a read asks before it gives up. Objects live on the first R
 * (or, after a write fell back, the next few) until repair moves them, so asking every node of a
 * large cluster would only make a miss slow.
 */
export function readFanout(ctx: GatewayContext): number {
  return ctx.config.replicas * 2 + 1;
}

/** Why a read over several nodes failed: missing everywhere, or something worse somewhere. */
class ReadFailures {
  missing = 0;
  corrupt = 0;
  other: DfsError | undefined;

  add(err: unknown): void {
    if (isDfsError(err, "DFS_ERR_NOT_FOUND")) this.missing++;
    else if (isDfsError(err, "DFS_ERR_CORRUPT") || isDfsError(err, "DFS_ERR_HASH_MISMATCH")) this.corrupt++;
    else this.other ??= toDfsError(err);
  }
}

/**
 * The manifest of a file, from the first node in placement order whose copy decrypts and verifies.
 * NOT_FOUND when no good copy was found and at least one node answered (none here, or a bad copy);
 * UNAVAILABLE when no node could be asked at all.
 */
export async function readManifest(
  ctx: GatewayContext,
  hash: string,
  signal?: AbortSignal,
): Promise<Manifest> {
  const id = ctx.cipher.manifestId(hash);
  const failures = new ReadFailures();
  for (const addr of ctx.placement.order(id).slice(0, readFanout(ctx))) {
    try {
      const sealed = await ctx.nodes.getBuffer(addr, id, { kind: "manifest", signal });
      ctx.metrics.nodeOp("get", "manifest", true);
      const manifest = ctx.cipher.openManifest(hash, sealed);
      if (manifest.hash !== hash) throw new DfsError("DFS_ERR_CORRUPT", "manifest names another file");
      return manifest;
    } catch (err) {
      if (signal?.aborted) throw toDfsError(err, "DFS_ERR_CANCELLED");
      ctx.metrics.nodeOp("get", "manifest", isDfsError(err, "DFS_ERR_NOT_FOUND"));
      failures.add(err);
    }
  }
  if (failures.missing > 0 || failures.corrupt > 0) {
    throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${hash}`);
  }
  throw new DfsError("DFS_ERR_UNAVAILABLE", "no storage node could be asked for this file", {
    cause: failures.other,
  });
}

/**
 * One chunk's plaintext, verified (GCM tag and the plaintext's SHA-256): from the first node in
 * placement order that has a good copy. A copy that fails verification is skipped like a missing one.
 */
export async function readChunk(ctx: GatewayContext, ref: ChunkRef, signal: AbortSignal): Promise<Buffer> {
  const failures = new ReadFailures();
  for (const addr of ctx.placement.order(ref.id).slice(0, readFanout(ctx))) {
    try {
      const sealed = await ctx.nodes.getBuffer(addr, ref.id, { kind: "chunk", signal });
      ctx.metrics.nodeOp("get", "chunk", true);
      const plain = ctx.cipher.open(sealed, ref.plainHash);
      if (plain.length !== ref.size) throw new DfsError("DFS_ERR_CORRUPT", "chunk has the wrong size");
      return plain;
    } catch (err) {
      if (signal.aborted) throw toDfsError(err, "DFS_ERR_CANCELLED");
      ctx.metrics.nodeOp("get", "chunk", false);
      failures.add(err);
    }
  }
  const code: ErrorCode = failures.corrupt > 0 && !failures.other ? "DFS_ERR_CORRUPT" : "DFS_ERR_UNAVAILABLE";
  throw new DfsError(code, `no live node holds a good copy of chunk ${ref.id}`, { cause: failures.other });
}
