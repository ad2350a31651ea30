import { EventEmitter } from "node:events";
import type { Redis } from "ioredis";
import type { RegistryConfig } from "../config/index.ts";
import { DfsError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { withDeadline } from "./deadline.ts";
import { throttledWarn } from "./log.ts";
import { isLive, type Observed, type RecordDecoder, readAll, readNodes } from "./read.ts";
import type { RegistryRedis } from "./redis.ts";
import type { MembershipEvents, MembershipView, NodeInfo, NodeRecord, NodeState } from "./types.ts";

interface Entry {
  record: NodeRecord;
  state: NodeState;
  /** Heartbeat age when observed, and when (performance.now()) the read that saw it started. */
  ageAtRead: number;
  observedAt: number;
}

/** Hints for the same burst of keyspace events are read in one pipeline. */
const HINT_DELAY_MS = 20;
/** Removed ids are remembered this long so an older full snapshot cannot bring them back. */
const REMEMBER_REMOVED_MS = 60_000;

export interface ViewOptions {
  logger: Logger;
  /** Closed with the view when it owns it (gateways, CLI); a node's membership shares its own. */
  ownsRedis: boolean;
  initialSyncTimeoutMs: number;
  /** Decodes and accepts entries (RecordCheck: signatures and bounds); counts what it refuses. */
  check: { decode: RecordDecoder; readonly rejected: number };
}

/** The membership view; see MembershipView for the contract. Open with RegistryView.open. */
export class RegistryView extends EventEmitter<MembershipEvents> implements MembershipView {
  readonly #redis: RegistryRedis;
  readonly #sub: Redis;
  readonly #config: RegistryConfig;
  readonly #options: ViewOptions;
  readonly #warn: (err: Error) => void;
  readonly #entries = new Map<string, Entry>();
  readonly #removedAt = new Map<string, number>();
  readonly #pending = new Set<string>();
  #sorted: string[] | undefined;
  #version = 0;
  /** Entries ignored because the view already holds maxMembers nodes. */
  #overBound = 0;
  #overBoundLogged = false;
  #lastError: Error | undefined;
  #lastSyncAt = Number.NEGATIVE_INFINITY;
  readonly #firstSync = Promise.withResolvers<void>();
  #graceUntil = 0;
  #everReady: boolean;
  #syncing = false;
  #again = false;
  #closed = false;
  #hintTimer: NodeJS.Timeout | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #onReady = () => this.#onClientReady();
  readonly #onSubReady = () => this.#requestSync();

  private constructor(redis: RegistryRedis, config: RegistryConfig, options: ViewOptions) {
    super();
    this.#redis = redis;
    this.#config = config;
    this.#options = options;
    const warn = throttledWarn(options.logger, "registry: membership sync failed");
    // Reads still pending when close() drops the connection fail; that is no news.
    this.#warn = (err) => {
      this.#lastError = err;
      if (!this.#closed) warn(err);
    };
    this.#everReady = redis.client.status === "ready";
    redis.client.on("ready", this.#onReady);
    // Hints first, then the first sync, so nothing falls between the two.
    this.#sub = redis.duplicate();
    this.#sub.on("ready", this.#onSubReady);
    this.#sub.on("pmessage", (_pattern: string, channel: string, event: string) => {
      const id = redis.keys.idOfHbChannel(channel);
      // A "set" on a live node is just its heartbeat; joins and expiries are what matter.
      if (id !== undefined && !(event === "set" && this.#entries.get(id)?.state === "live")) this.#hint(id);
    });
    this.#sub.on("message", (channel: string, id: string) => {
      if (channel === redis.keys.events) this.#hint(id);
    });
    this.#sub.psubscribe(redis.keys.hbPattern).catch(this.#warn);
    this.#sub.subscribe(redis.keys.events).catch(this.#warn);
    this.#timer = setInterval(() => this.#requestSync(), config.resyncIntervalMs).unref();
  }

  /** Resolves once the first full sync succeeded; DFS_ERR_REGISTRY if it did not in time. */
  static async open(
    redis: RegistryRedis,
    config: RegistryConfig,
    options: ViewOptions,
  ): Promise<RegistryView> {
    const view = new RegistryView(redis, config, options);
    view.#requestSync();
    try {
      await withDeadline(view.#firstSync.promise, options.initialSyncTimeoutMs, "registry: first sync");
    } catch (err) {
      await view.close();
      const last = view.#lastError ?? redis.lastError();
      throw new DfsError(
        "DFS_ERR_REGISTRY",
        `registry: no membership from Redis within ${options.initialSyncTimeoutMs} ms` +
          (last ? ` (last error: ${last.message})` : ""),
        { cause: last ?? err },
      );
    }
    return view;
  }

  get ageMs(): number {
    return Math.max(0, Math.round(performance.now() - this.#lastSyncAt));
  }

  get stale(): boolean {
    return this.#redis.client.status !== "ready" || this.ageMs > 2 * this.#config.resyncIntervalMs;
  }

  get version(): number {
    return this.#version;
  }

  get rejected(): number {
    return this.#options.check.rejected + this.#overBound;
  }

  live(): NodeInfo[] {
    return this.all().filter((n) => n.state === "live");
  }

  all(): NodeInfo[] {
    this.#sorted ??= [...this.#entries.keys()].sort();
    const now = performance.now();
    return this.#sorted.map((id) => toInfo(this.#entries.get(id)!, now));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#hintTimer);
    this.#redis.client.off("ready", this.#onReady);
    this.#sub.removeAllListeners("pmessage").removeAllListeners("message").off("ready", this.#onSubReady);
    await (this.#options.ownsRedis ? this.#redis.close() : this.#redis.drop(this.#sub));
  }

  #onClientReady(): void {
    // After a reconnect keys may still be catching up (a failover, a restarted empty Redis that nodes
    // have not re-registered into yet): evict nobody for a while.
    if (this.#everReady) this.#graceUntil = performance.now() + this.#config.reconnectGraceMs;
    this.#everReady = true;
    this.#requestSync();
  }

  #requestSync(): void {
    if (this.#closed) return;
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    this.#syncing = true;
    const startedAt = performance.now();
    readAll(this.#redis.client, this.#redis.keys, this.#options.check.decode)
      .then((observed) => {
        if (this.#closed) return;
        this.#apply(observed, startedAt, true);
        this.#lastSyncAt = startedAt;
        this.#firstSync.resolve();
      })
      .catch(this.#warn)
      .finally(() => {
        this.#syncing = false;
        if (this.#again) {
          this.#again = false;
          this.#requestSync();
        }
      });
  }

  #hint(id: string): void {
    this.#pending.add(id);
    this.#hintTimer ??= setTimeout(() => {
      this.#hintTimer = undefined;
      const ids = [...this.#pending];
      this.#pending.clear();
      const startedAt = performance.now();
      readNodes(this.#redis.client, this.#redis.keys, ids, this.#options.check.decode)
        .then((observed) => {
          if (!this.#closed) this.#apply(observed, startedAt, false);
        })
        .catch(this.#warn);
    }, HINT_DELAY_MS);
  }

  /** Merges what one read saw; a full read also removes the ids it did not see. */
  #apply(observed: Map<string, Observed | null>, at: number, full: boolean): void {
    const inGrace = performance.now() < this.#graceUntil;
    const joins: NodeInfo[] = [];
    const leaves: NodeInfo[] = [];
    let changed = false;
    const remove = (id: string) => {
      const prev = this.#entries.get(id);
      if (!prev || inGrace || prev.observedAt > at) return;
      this.#entries.delete(id);
      this.#removedAt.set(id, at);
      this.#sorted = undefined;
      if (prev.state === "live") leaves.push(toInfo(prev, at));
      changed = true;
    };
    for (const [id, obs] of observed) {
      if (obs === null) {
        remove(id);
        continue;
      }
      const prev = this.#entries.get(id);
      if ((prev && prev.observedAt > at) || (this.#removedAt.get(id) ?? -1) > at) continue;
      if (!prev && this.#entries.size >= this.#config.maxMembers) {
        this.#refuseOverBound(id);
        continue;
      }
      let state: NodeState = isLive(obs) ? "live" : "expired";
      if (state === "expired" && prev?.state === "live" && inGrace) state = "live";
      const ageAtRead =
        obs.pttl > 0 && obs.pttl <= obs.record.heartbeatTtlMs
          ? Math.max(0, obs.record.heartbeatTtlMs - obs.pttl)
          : Math.max(obs.record.heartbeatTtlMs, Date.now() - obs.record.lastHeartbeat);
      const next: Entry = { record: obs.record, state, ageAtRead, observedAt: at };
      this.#entries.set(id, next);
      this.#removedAt.delete(id);
      if (!prev) this.#sorted = undefined;
      const wasLive = prev?.state === "live";
      if (state === "live" && wasLive && prev.record.incarnation !== obs.record.incarnation) {
        leaves.push(toInfo(prev, at));
        joins.push(toInfo(next, at));
      } else if (state === "live" && !wasLive) {
        joins.push(toInfo(next, at));
      } else if (state === "expired" && wasLive) {
        leaves.push(toInfo(prev, at));
      }
      if (prev?.state !== state || (state === "live" && placementDiffers(prev.record, obs.record)))
        changed = true;
    }
    if (full) {
      for (const id of [...this.#entries.keys()]) if (!observed.has(id)) remove(id);
      for (const [id, t] of this.#removedAt) if (at - t > REMEMBER_REMOVED_MS) this.#removedAt.delete(id);
    }
    for (const n of leaves) this.emit("leave", n);
    for (const n of joins) this.emit("join", n);
    if (changed) {
      this.#version++;
      this.emit("change");
    }
  }
  /** Placement supports a bounded number of nodes: the ones already held stay, newcomers wait. */
  #refuseOverBound(id: string): void {
    this.#overBound++;
    if (this.#overBoundLogged) return;
    this.#overBoundLogged = true;
    this.#options.logger.warn(
      { node: id, maxMembers: this.#config.maxMembers },
      "registry: more nodes than redis.maxMembers; ignoring the ones past it",
    );
  }
}

function placementDiffers(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.addr !== b.addr ||
    a.zone !== b.zone ||
    a.capacityBytes !== b.capacityBytes ||
    a.incarnation !== b.incarnation
  );
}

function toInfo(e: Entry, now: number): NodeInfo {
  const r = e.record;
  return {
    id: r.id,
    addr: r.addr,
    zone: r.zone,
    capacityBytes: r.capacityBytes,
    freeBytes: r.freeBytes,
    version: r.version,
    startedAt: r.startedAt,
    ...(r.heal && { heal: { ...r.heal } }),
    ...(r.store && { store: { ...r.store } }),
    ...(r.features && { features: [...r.features] }),
    incarnation: r.incarnation,
    lastHeartbeatAgeMs: Math.round(e.ageAtRead + Math.max(0, now - e.observedAt)),
    state: e.state,
  };
}
