import { PassThrough, type Readable } from "node:stream";
import { DfsError, toDfsError } from "../errors.ts";
import type { PutRequest } from "../protocol/messages.ts";
import type { PutResult } from "../protocol/types.ts";
import { type NodeApi, pieces } from "../transport/index.ts";
import type { ChunkStore, ObjectWriter } from "./store/index.ts";
import { drainOrClose } from "./streams.ts";

/**
 * A PUT with a forward list is a pipeline (as in HDFS): each piece is written here and passed on
 * to the next node as it arrives, so a chain of three costs about one transfer time, not three.
 * The answer lists every node of the chain that now holds the object durably, and every one that
 * failed and why. A node that cannot store (full disk, say) still forwards: one bad disk does not
 * break the chain.
 */
export async function chainPut(
  store: ChunkStore,
  nodes: NodeApi,
  selfAddr: string,
  req: PutRequest,
  body: Readable,
  signal: AbortSignal,
): Promise<PutResult> {
  const failed: PutResult["failed"] = [];
  let writer: ObjectWriter | undefined;
  try {
    writer = await store.createWriter(req.kind, req.id, req.size, req.checksum);
  } catch (err) {
    const e = toDfsError(err);
    if (req.forward.length === 0) throw e;
    failed.push({ addr: selfAddr, code: e.code, message: e.message });
  }

  let tee: PassThrough | undefined;
  let downstream: Promise<PutResult> = Promise.resolve({ stored: [], failed: [] });
  const [next, ...rest] = req.forward;
  if (next !== undefined) {
    tee = new PassThrough({ highWaterMark: 1024 * 1024 });
    const forward = tee;
    downstream = nodes
      .put(next, req.id, forward, req.size, { kind: req.kind, checksum: req.checksum, forward: rest, signal })
      .catch((err: unknown) => {
        const e = toDfsError(err);
        forward.destroy();
        return {
          stored: [],
          failed: req.forward.map((addr) => ({ addr, code: e.code, message: e.message })),
        };
      });
  }

  let localError: DfsError | undefined;
  writer?.on("error", (err: unknown) => {
    localError ??= toDfsError(err);
  });
  tee?.on("error", () => {});
  try {
    for await (const buf of pieces(body)) {
      const localOk = writer && !localError ? writer.write(buf) : true;
      const forwardOk = tee && !tee.destroyed ? tee.write(buf) : true;
      if (!localOk) await drainOrClose(writer!);
      if (!forwardOk) await drainOrClose(tee!);
    }
    tee?.end();
  } catch (err) {
    // The upstream went away or cancelled: nothing of this request may become visible here.
    tee?.destroy();
    await writer?.abort();
    await downstream;
    throw toDfsError(err, "DFS_ERR_CANCELLED");
  }

  if (writer) {
    try {
      if (localError) throw localError;
      await writer.commit();
    } catch (err) {
      const e = toDfsError(err);
      await writer.abort();
      failed.unshift({ addr: selfAddr, code: e.code, message: e.message });
    }
  }
  const down = await downstream;
  const stored = [...(writer && failed[0]?.addr !== selfAddr ? [selfAddr] : []), ...down.stored];
  const allFailed = [...failed, ...down.failed];
  if (stored.length === 0) {
    const first = allFailed[0];
    throw new DfsError(first?.code ?? "DFS_ERR_INTERNAL", first?.message ?? "no node stored the object");
  }
  return { stored, failed: allFailed };
}
