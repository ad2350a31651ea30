/**
 * Self-healing of a storage node: repair and rebalance (repair.ts, rules in plan.ts), scrub
 * (scrub.ts), garbage collection (gc.ts), scheduled by heal.ts. Nodes hold no key: they read the
 * clear header of sealed manifests (src/formats) to see chunk references and tombstones.
 */
export { type HealDeps, Healer, type HealOptions } from "./heal.ts";
export { type ObjectFacts, type ObjectPlan, planObject } from "./plan.ts";
export { REFS_MARKER } from "./refs-upgrade.ts";
