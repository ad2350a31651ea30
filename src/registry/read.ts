import type { Redis } from "ioredis";
import { MAX_CLOCK_SKEW_MS } from "../credentials/index.ts";
import { decodeRecord, type RegistryKeys } from "./keys.ts";
import type { NodeRecord } from "./types.ts";

/** One node as read from Redis: its registration and the PTTL of its heartbeat key. */
export interface Observed {
  record: NodeRecord;
  /** The registration exactly as stored, for compare-and-delete. */
  raw: string;
  /** ms left on the heartbeat key; -2 when it is gone (expired), -1 when it has no TTL. */
  pttl: number;
}

/** Pipelines stay bounded at a thousand nodes and more. */
const BATCH = 500;

/** How entries are decoded and which are accepted (RecordCheck.decode): the record, or undefined. */
export type RecordDecoder = (text: string | null, id: string) => NodeRecord | undefined;

const plainDecode: RecordDecoder = (text, id) => {
  const record = decodeRecord(text);
  return record && record.id === id ? record : undefined;
};

/**
 * Live while the heartbeat key exists with a TTL no longer than the one the record states: a key
 * without a TTL (-1), or one set longer by someone else, would keep a dead node live for ever.
 */
export function isLive(o: Observed, nowMs = Date.now()): boolean {
  const r = o.record;
  // A replayed record (its node gone, the key set again by someone else) is refused once its own
  // last heartbeat is older than the TTL plus the clock skew allowed between hosts.
  if (nowMs - r.lastHeartbeat > r.heartbeatTtlMs + MAX_CLOCK_SKEW_MS) return false;
  return o.pttl > 0 && o.pttl <= r.heartbeatTtlMs;
}

/** Reads the given nodes; null for an id that is not registered (or whose entry is unreadable). */
export async function readNodes(
  client: Redis,
  keys: RegistryKeys,
  ids: readonly string[],
  decode: RecordDecoder = plainDecode,
): Promise<Map<string, Observed | null>> {
  const out = new Map<string, Observed | null>();
  for (let start = 0; start < ids.length; start += BATCH) {
    const batch = ids.slice(start, start + BATCH);
    const pipe = client.pipeline();
    for (const id of batch) pipe.get(keys.node(id)).pttl(keys.hb(id));
    const results = (await pipe.exec()) ?? [];
    batch.forEach((id, i) => {
      const [getErr, raw] = results[2 * i] ?? [new Error("missing reply")];
      const [ttlErr, pttl] = results[2 * i + 1] ?? [new Error("missing reply")];
      if (getErr) throw getErr;
      if (ttlErr) throw ttlErr;
      const text = typeof raw === "string" ? raw : null;
      const record = decode(text, id);
      out.set(id, record ? { record, raw: text!, pttl: Number(pttl) } : null);
    });
  }
  return out;
}

/** Every registered node: the members index, then each entry. */
export async function readAll(
  client: Redis,
  keys: RegistryKeys,
  decode: RecordDecoder = plainDecode,
): Promise<Map<string, Observed | null>> {
  const ids = await client.smembers(keys.members);
  return readNodes(client, keys, ids, decode);
}
