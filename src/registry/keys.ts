import { z } from "zod";
import type { NodeRecord } from "./types.ts";

/**
 * Key layout, all under `prefix` (default "dfs:"):
 *   <p>members     SET of node ids: the index of registered nodes
 *   <p>node:<id>   STRING, JSON NodeRecord, no TTL: the registration (re-asserted on every beat)
 *   <p>hb:<id>     STRING, the incarnation, with PX heartbeatTtlMs: the node is live while it exists
 *   <p>events      pub/sub channel; a node id is published on register and deregister (hints)
 * Every write is idempotent (SADD, SET, DEL, SREM): ioredis resends unanswered commands after a
 * reconnect, so each may run twice.
 */
export interface RegistryKeys {
  readonly members: string;
  readonly events: string;
  node(id: string): string;
  hb(id: string): string;
  /** Keyspace-notification pattern of every heartbeat key (any db). */
  readonly hbPattern: string;
  /** The node id of a keyspace channel matched by hbPattern, undefined for anything else. */
  idOfHbChannel(channel: string): string | undefined;
}

export function registryKeys(prefix: string): RegistryKeys {
  const hbPrefix = `${prefix}hb:`;
  return {
    members: `${prefix}members`,
    events: `${prefix}events`,
    node: (id) => `${prefix}node:${id}`,
    hb: (id) => `${hbPrefix}${id}`,
    hbPattern: `__keyspace@*__:${escapeGlob(hbPrefix)}*`,
    idOfHbChannel(channel) {
      const i = channel.indexOf(":");
      if (i < 0 || !channel.startsWith("__keyspace@")) return undefined;
      const key = channel.slice(i + 1);
      return key.startsWith(hbPrefix) && key.length > hbPrefix.length
        ? key.slice(hbPrefix.length)
        : undefined;
    },
  };
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

const count = z.number().int().nonnegative();

/** Every field a count: a value that is not (a garbled or foreign write) drops `heal`, not the node. */
const HealSchema = z.object({
  underReplicated: count,
  repaired: count,
  repairedBytes: count,
  dropped: count,
  scrubbed: count,
  quarantined: count,
  restored: count,
  collected: count,
  collectedBytes: count,
  // Absent from the records of nodes older than it.
  expiredTombstones: count.default(0),
  repairRounds: count,
  scrubRounds: count,
  gcRounds: count,
  // Absent from the records of nodes older than sync.
  syncRounds: count.default(0),
  syncDifferences: count.default(0),
  syncRepaired: count.default(0),
  syncRequests: count.default(0),
  syncBytes: count.default(0),
});

/** Like HealSchema: a malformed value drops `store`, not the node. */
const StoreSchema = z.object({
  cacheHits: count,
  cacheMisses: count,
  packFiles: count,
  packBytes: count,
  packLiveBytes: count,
  packBatches: count,
  packRecords: count,
  packCompactions: count,
});

const RecordSchema = z.object({
  id: z.string().min(1),
  addr: z.string().min(1),
  zone: z.string(),
  capacityBytes: count,
  freeBytes: count,
  version: z.string(),
  startedAt: count,
  incarnation: count,
  lastHeartbeat: count,
  heartbeatTtlMs: z.number().int().positive(),
  heal: HealSchema.optional().catch(undefined),
  store: StoreSchema.optional().catch(undefined),
  features: z.array(z.string().max(64)).max(32).optional().catch(undefined),
  // The node's credential and its signature of the other fields, base64 (record-signature.ts).
  credential: z.string().max(1024).optional(),
  signature: z.string().max(128).optional(),
});

export function encodeRecord(record: NodeRecord): string {
  return JSON.stringify(record);
}

/** Undefined for anything that is not a valid record: a foreign or corrupt value is ignored, not fatal. */
export function decodeRecord(text: string | null): NodeRecord | undefined {
  if (text === null) return undefined;
  try {
    const parsed = RecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
