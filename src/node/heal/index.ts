/**
 * Self-healing of a storage node: repair and rebalance (repair.ts, rules in plan.ts), scrub
 * (scrub.ts), garbage collection from the chunk references in the node's own tables (gc.ts; built
 * for data folders from before them by refs-upgrade.ts), scheduled by heal.ts. Nodes hold no key:
 * they read the clear header of sealed manifests (src/formats) to see chunk ids and tombstones.
 */
export { type HealDeps, Healer, type HealOptions } from "./heal.ts";
export { type ObjectFacts, type ObjectPlan, planObject } from "./plan.ts";
export { REFS_MARKER } from "./refs-upgrade.ts";
