import { DfsError } from "../../errors.ts";
import { type SyncDigests, type SyncElements, SyncLimits, type SyncRequest } from "../../protocol/index.ts";
import { PartitionSet } from "./digest-tree.ts";
import type { ObjectDigests } from "./object-digests.ts";

/**
 * A node's answer to a SYNC request, from its digests in memory: no disk is read. The request was
 * checked on decode (sizes, counts, order); a tree this node does not keep is DFS_ERR_NOT_FOUND.
 */
export function answerSync(digests: ObjectDigests, request: SyncRequest): SyncDigests | SyncElements {
  const index = digests.index(request.tree);
  if (index === undefined) throw new DfsError("DFS_ERR_NOT_FOUND", `SYNC: no tree ${request.tree} here`);
  switch (request.op) {
    case "root":
      return { digests: index.tree.digestOver(new PartitionSet(request.set)) };
    case "groups":
      return { digests: index.tree.groupsOver(new PartitionSet(request.set)) };
    case "partitions": {
      const out = Buffer.allocUnsafe(request.partitions.length * SyncLimits.DIGEST_BYTES);
      for (const [i, p] of request.partitions.entries()) {
        index.tree.partitionDigest(p, out, i * SyncLimits.DIGEST_BYTES);
      }
      return { digests: out };
    }
    case "elements":
      return index.page(request.partition, request.after, request.limit);
  }
}
