/**
 * Self-healing of a storage node: repair and rebalance (repair.ts, rules in plan.ts), scrub
 * (scrub.ts), garbage collection (gc.ts), scheduled by heal.ts. Nodes hold no key: they read the
 * clear header of sealed manifests (manifest-header.ts) to see chunk references and tombstones.
 */
export type { HealCounters } from "./counters.ts";
export { type HealDeps, Healer, type HealOptions } from "./heal.ts";
export {
  type ManifestHeader,
  type ManifestType,
  parseManifestHeader,
  wins,
} from "./manifest-header.ts";
export { type ObjectFacts, type ObjectPlan, planObject } from "./plan.ts";
