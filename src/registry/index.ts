/**
 * Node membership in Redis under Sentinel: nodes register and heartbeat (startNodeMembership),
 * gateways and the CLI watch (startMembershipView). Key layout and write rules: keys.ts.
 */
export { chooseIncarnation } from "./heartbeat.ts";
export { type RegistryKeys, registryKeys } from "./keys.ts";
export {
  type NodeMembershipOptions,
  startMembershipView,
  startNodeMembership,
  type ViewStartOptions,
} from "./membership.ts";
export { CONNECTION_NAME, createRedis, type RegistryRedis } from "./redis.ts";
export { type SentinelPeer, type SentinelTopology, sentinelTopology } from "./sentinel-topology.ts";
export type {
  MembershipEvents,
  MembershipView,
  NodeInfo,
  NodeMembership,
  NodeRecord,
  NodeRecordInput,
  NodeState,
  StoreStatsPublished,
} from "./types.ts";
