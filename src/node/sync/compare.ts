import type {
  SyncDigests,
  SyncElements,
  SyncElementsRequest,
  SyncPartitionsRequest,
  SyncSumsRequest,
} from "../../protocol/index.ts";
import { SyncLimits } from "../../protocol/index.ts";
import { DIGEST_BYTES, GROUPS, type PartitionSet } from "./digest-tree.ts";
import type { ElementIndex } from "./element-index.ts";

/** One tree of a peer, asked over SYNC: what a comparison needs of the other side. */
export interface RemoteTree {
  sums(request: Omit<SyncSumsRequest, "tree">): Promise<SyncDigests>;
  partitions(request: Omit<SyncPartitionsRequest, "tree">): Promise<SyncDigests>;
  elements(request: Omit<SyncElementsRequest, "tree">): Promise<SyncElements>;
}

/** What a comparison of one tree with a peer's, over a set of partitions, found. */
export interface TreeDifferences {
  /** Ids this node holds that the peer lacks or holds another version of. */
  ours: string[];
  /** Elements the peer holds that this node lacks or holds another version of. */
  theirs: number;
  /** Partitions whose digests differed. */
  partitions: number;
}

const ID_BYTES = 32;
/** Element pages in flight at once, per comparison. */
const PARALLEL_PAGES = 8;
/**
 * Up to this many shared partitions, their digests are asked for at once (4 + 2n bytes asked,
 * 2 + 36n answered) rather than the root over a bitmap of all 65,536 (8,194 asked, 38 answered):
 * in a large cluster two nodes share a few partitions only (at 1,000 nodes, R = 3, one or two).
 */
const DIRECT_PARTITIONS = 200;

/**
 * Compares this node's tree with a peer's over the partitions both hold (`shared`), descending only
 * where digests differ: the root over `shared` (one request); if it differs, the 256 groups' over
 * `shared`; the digests of the shared partitions of the differing groups (1024 a request); then the
 * elements of each differing partition (1000 a page). So two trees in sync cost one request, and
 * the rest grows with the differences, not with what the trees hold. A few shared partitions
 * (DIRECT_PARTITIONS) are asked for directly, in one request too.
 *
 * A partition where this node holds nothing needs no element list: nothing of ours is to be sent
 * (the peer's own round with us finds what we lack). One where the peer holds nothing gives all of
 * ours without asking.
 */
export async function compareTree(
  local: ElementIndex,
  remote: RemoteTree,
  shared: PartitionSet,
): Promise<TreeDifferences> {
  const found: TreeDifferences = { ours: [], theirs: 0, partitions: 0 };
  const candidates =
    shared.size <= DIRECT_PARTITIONS ? shared.list() : await differingGroups(local, remote, shared);
  const differing: { partition: number; theirCount: number }[] = [];
  const ours = Buffer.allocUnsafe(DIGEST_BYTES);
  for (let i = 0; i < candidates.length; i += SyncLimits.MAX_PARTITIONS) {
    const partitions = candidates.slice(i, i + SyncLimits.MAX_PARTITIONS);
    const theirs = (await remote.partitions({ op: "partitions", partitions })).digests;
    partitions.forEach((partition, j) => {
      local.tree.partitionDigest(partition, ours);
      const at = j * DIGEST_BYTES;
      if (ours.compare(theirs, at, at + DIGEST_BYTES, 0, DIGEST_BYTES) !== 0) {
        differing.push({ partition, theirCount: theirs.readUInt32BE(at) });
      }
    });
  }
  found.partitions = differing.length;
  let next = 0;
  const lane = async () => {
    while (next < differing.length) {
      const { partition, theirCount } = differing[next++]!;
      const mine = local.tree.count(partition);
      if (mine === 0) {
        found.theirs += theirCount;
        continue;
      }
      const theirs = theirCount === 0 ? new Map<string, string>() : await elementsOf(remote, partition);
      const page = local.page(partition, undefined, mine);
      const seen = new Set<string>();
      for (let at = 0; at < page.elements.length; at += 2 * ID_BYTES) {
        const id = page.elements.toString("hex", at, at + ID_BYTES);
        const hash = page.elements.toString("hex", at + ID_BYTES, at + 2 * ID_BYTES);
        const other = theirs.get(id);
        if (other !== undefined) seen.add(id);
        if (other === hash) continue;
        found.ours.push(id);
        if (other !== undefined) found.theirs++;
      }
      for (const id of theirs.keys()) if (!seen.has(id)) found.theirs++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PAGES, differing.length) }, lane));
  return found;
}

/**
 * The shared partitions of the groups whose digests differ, asking for the root first: empty
 * when the trees agree over `shared`.
 */
async function differingGroups(
  local: ElementIndex,
  remote: RemoteTree,
  shared: PartitionSet,
): Promise<number[]> {
  const set = shared.bytes;
  const root = await remote.sums({ op: "root", set });
  if (root.digests.equals(local.tree.digestOver(shared))) return [];
  const theirGroups = (await remote.sums({ op: "groups", set })).digests;
  const ourGroups = local.tree.groupsOver(shared);
  const groups: number[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const at = g * DIGEST_BYTES;
    if (ourGroups.compare(theirGroups, at, at + DIGEST_BYTES, at, at + DIGEST_BYTES) !== 0) groups.push(g);
  }
  return shared.list(groups);
}

/** Every element of one of the peer's partitions: id -> hash (hex). */
async function elementsOf(remote: RemoteTree, partition: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: string | undefined;
  do {
    const page = await remote.elements({ op: "elements", partition, after, limit: SyncLimits.MAX_ELEMENTS });
    const e = page.elements;
    for (let at = 0; at < e.length; at += 2 * ID_BYTES) {
      out.set(e.toString("hex", at, at + ID_BYTES), e.toString("hex", at + ID_BYTES, at + 2 * ID_BYTES));
    }
    after = page.next;
  } while (after !== undefined);
  return out;
}

/** A peer's tree over SYNC, counting the requests and bytes it takes. */
export function remoteTree(
  sync: <R extends SyncSumsRequest | SyncPartitionsRequest | SyncElementsRequest>(
    request: R,
  ) => Promise<{ answer: R extends SyncElementsRequest ? SyncElements : SyncDigests; bytes: number }>,
  tree: number,
  cost: { requests: number; bytes: number },
): RemoteTree {
  const ask = async <R extends SyncSumsRequest | SyncPartitionsRequest | SyncElementsRequest>(request: R) => {
    const { answer, bytes } = await sync(request);
    cost.requests++;
    cost.bytes += bytes;
    return answer;
  };
  return {
    sums: (r) => ask({ ...r, tree }),
    partitions: (r) => ask({ ...r, tree }),
    elements: (r) => ask({ ...r, tree }),
  };
}
