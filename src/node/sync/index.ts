/**
 * Anti-entropy by digest trees (ARCHITECTURE.md, "Self-healing"): a node keeps digests of what it
 * holds up to date as its store changes (digest-tree.ts, element-index.ts, object-digests.ts),
 * answers its peers' SYNC requests from them (answer.ts), and compares its trees with a peer's
 * over the partitions both own, descending only where they differ (compare.ts). Repair
 * (src/node/heal) hands what differs to its plan.
 */
export { answerSync } from "./answer.ts";
export { compareTree, type RemoteTree, remoteTree, type TreeDifferences } from "./compare.ts";
export { DIGEST_BYTES, DigestTree, GROUPS, PARTITIONS, PartitionSet } from "./digest-tree.ts";
export { ElementIndex, type ElementPage } from "./element-index.ts";
export { manifestElement, ObjectDigests, TREES } from "./object-digests.ts";
export { recordsOf, tableElement, trackTables } from "./table-digests.ts";
