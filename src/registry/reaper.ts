import { createHash } from "node:crypto";
import type { Logger } from "../logger.ts";
import { withDeadline } from "./deadline.ts";
import { type RecordDecoder, readNodes } from "./read.ts";
import type { RegistryRedis } from "./redis.ts";
import type { MembershipView } from "./types.ts";

/**
 * Removes a registration only if, atomically, its heartbeat key is still gone and the entry is
 * exactly what the caller saw: a node that came back (or beat once) in between is never removed.
 * Plain EVAL, not EVALSHA: no NOSCRIPT after a failover, and reaping is rare.
 * KEYS: hb, node, members. ARGV: id, the entry as seen, events channel.
 */
const REMOVE_IF_UNCHANGED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local current = redis.call('GET', KEYS[2])
if current and current ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[1])
if current then return 1 end
return 0
`;

/** How many live nodes take charge of one dead peer; the others wait (see `responsible`). */
const REAPERS_PER_PEER = 2;
const PROBE_TIMEOUT_MS = 5000;
const ORPHANS_PER_PASS = 100;

export interface ReaperOptions {
  selfId: string;
  intervalMs: number;
  probe: (addr: string) => Promise<boolean>;
  logger: Logger;
  /** Which entries count (RecordCheck): a refused entry reads as none, and is never removed here. */
  decode?: RecordDecoder;
}

/**
 * Dead-node removal by the live nodes themselves, without every node piling onto every corpse: on join
 * and every `intervalMs` (jittered), for each registered peer whose heartbeat expired, the
 * REAPERS_PER_PEER live nodes ranked first for that peer (rendezvous hash) probe it; unreachable =>
 * the stale entry is removed. If those nodes do not act within three intervals, anyone does.
 * A peer that answers the probe but does not heartbeat is kept (and logged): it may only be cut
 * off from Redis. Nothing is reaped while the view is stale.
 */
export class Reaper {
  readonly #redis: RegistryRedis;
  readonly #view: MembershipView;
  readonly #options: ReaperOptions;
  readonly #expiredSince = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;

  constructor(redis: RegistryRedis, view: MembershipView, options: ReaperOptions) {
    this.#redis = redis;
    this.#view = view;
    this.#options = options;
  }

  start(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.runOnce()
        .catch((err: Error) => this.#options.logger.warn({ err: err.message }, "registry: reaping failed"))
        .finally(() => this.#schedule(this.#options.intervalMs * (0.8 + Math.random() * 0.4)));
    }, ms).unref();
  }

  /** One pass; resolves with the ids removed. */
  async runOnce(): Promise<string[]> {
    if (this.#running || this.#view.stale) return [];
    this.#running = true;
    try {
      return await this.#pass();
    } finally {
      this.#running = false;
    }
  }

  async #pass(): Promise<string[]> {
    const { selfId, intervalMs, logger } = this.#options;
    const now = performance.now();
    const all = this.#view.all();
    const liveIds = all.filter((n) => n.state === "live").map((n) => n.id);
    const expired = all.filter((n) => n.state === "expired" && n.id !== selfId);
    for (const id of this.#expiredSince.keys())
      if (!expired.some((n) => n.id === id)) this.#expiredSince.delete(id);
    await this.#dropOrphans(new Set(all.map((n) => n.id)));
    const { keys, client } = this.#redis;
    const removed: string[] = [];
    for (const peer of expired) {
      const since = this.#expiredSince.get(peer.id) ?? now;
      this.#expiredSince.set(peer.id, since);
      if (!responsible(peer.id, selfId, liveIds) && now - since < 3 * intervalMs) continue;
      // The view may be a resync old: look again right before deciding.
      const seen = (await readNodes(client, keys, [peer.id], this.#options.decode)).get(peer.id);
      if (!seen || seen.pttl !== -2) continue;
      if (await this.#reachable(seen.record.addr)) {
        logger.warn(
          { peer: peer.id, addr: seen.record.addr },
          "registry: peer answers but does not heartbeat; kept",
        );
        continue;
      }
      const result = await client.eval(
        REMOVE_IF_UNCHANGED,
        3,
        keys.hb(peer.id),
        keys.node(peer.id),
        keys.members,
        peer.id,
        seen.raw,
        keys.events,
      );
      if (result === 1) {
        removed.push(peer.id);
        this.#expiredSince.delete(peer.id);
        logger.info(
          { peer: peer.id, addr: seen.record.addr, incarnation: seen.record.incarnation },
          "registry: removed dead node",
        );
      }
    }
    return removed;
  }

  /**
   * Ids in the index without an entry (only a manual edit or a foreign writer makes them) would be
   * read on every resync forever. The script drops them; it still refuses if a heartbeat exists.
   */
  async #dropOrphans(known: ReadonlySet<string>): Promise<void> {
    const { keys, client } = this.#redis;
    let looked = 0;
    for (const id of await client.smembers(keys.members)) {
      if (known.has(id) || id === this.#options.selfId) continue;
      // Bounded per pass: refused entries (unsigned, out of bounds) stay in the index and are
      // looked at here again; a flood of them must not make a pass unbounded.
      if (++looked > ORPHANS_PER_PASS) break;
      if ((await readNodes(client, keys, [id])).get(id) !== null) continue;
      await client.eval(
        REMOVE_IF_UNCHANGED,
        3,
        keys.hb(id),
        keys.node(id),
        keys.members,
        id,
        "",
        keys.events,
      );
    }
  }

  async #reachable(addr: string): Promise<boolean> {
    try {
      return await withDeadline(this.#options.probe(addr), PROBE_TIMEOUT_MS, `probe ${addr}`);
    } catch {
      return false;
    }
  }
}

/** True when `self` ranks among the first REAPERS_PER_PEER of the live nodes for this peer. */
export function responsible(peerId: string, selfId: string, liveIds: readonly string[]): boolean {
  const score = (id: string) => createHash("sha256").update(`${peerId}\n${id}`).digest("hex");
  const candidates = new Set([...liveIds, selfId]);
  const mine = score(selfId);
  let ahead = 0;
  for (const id of candidates) if (id !== selfId && score(id) > mine) ahead++;
  return ahead < REAPERS_PER_PEER;
}
