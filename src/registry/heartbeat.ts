import type { RegistryConfig } from "../config/index.ts";
import type { Identity } from "../credentials/index.ts";
import type { Logger } from "../logger.ts";
import { encodeRecord } from "./keys.ts";
import { throttledWarn } from "./log.ts";
import { signRecord } from "./record-signature.ts";
import type { RegistryRedis } from "./redis.ts";
import type { NodeRecord, NodeRecordInput } from "./types.ts";

/**
 * The incarnation of a start: max(previous + 1, now in ms). Chosen once, before anything is sent,
 * then written with plain SETs, so a resend after a reconnect writes the same value (INCR would
 * count twice). The clock term keeps it growing even when Redis lost the previous value (a failover
 * that dropped writes, an emptied Redis); the previous+1 term keeps it growing when the clock
 * stepped back. It can only fail to grow if both happen at once.
 */
export function chooseIncarnation(previous: number | undefined, nowMs: number): number {
  return Math.max((previous ?? 0) + 1, nowMs);
}

/**
 * Heartbeats of one node: every beat re-asserts the WHOLE entry (index, registration, TTL key) in
 * one MULTI, so the registry is soft state: whatever a failover or an emptied Redis lost comes back
 * with the next beat. One beat at a time: while Redis is away a beat waits in the offline queue and
 * no more pile up behind it.
 */
export class Heartbeat {
  readonly #redis: RegistryRedis;
  readonly #config: RegistryConfig;
  readonly #self: () => NodeRecordInput;
  readonly #incarnation: number;
  readonly #onBeat: ((record: NodeRecord) => void) | undefined;
  readonly #identity: Identity | undefined;
  readonly #warn: (err: Error) => void;
  #last: NodeRecordInput;
  #inFlight = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    redis: RegistryRedis,
    config: RegistryConfig,
    self: () => NodeRecordInput,
    first: NodeRecordInput,
    incarnation: number,
    logger: Logger,
    options: { onBeat?: ((record: NodeRecord) => void) | undefined; identity?: Identity | undefined } = {},
  ) {
    this.#redis = redis;
    this.#config = config;
    this.#self = self;
    this.#last = first;
    this.#incarnation = incarnation;
    this.#onBeat = options.onBeat;
    this.#identity = options.identity;
    this.#warn = throttledWarn(logger, "registry: heartbeat failed");
  }

  /** Writes one heartbeat; resolves when Redis acknowledged it. `announce` also publishes a hint. */
  async beat(announce = false): Promise<void> {
    try {
      this.#last = this.#self();
    } catch (err) {
      // Liveness must not depend on, say, a failing statfs: beat with the last good values.
      this.#warn(err as Error);
    }
    const { keys, client } = this.#redis;
    const id = this.#last.id;
    const fields: NodeRecord = {
      ...this.#last,
      incarnation: this.#incarnation,
      lastHeartbeat: Date.now(),
      heartbeatTtlMs: this.#config.heartbeatTtlMs,
    };
    const record = this.#identity ? signRecord(this.#identity, fields) : fields;
    const tx = client
      .multi()
      .sadd(keys.members, id)
      .set(keys.node(id), encodeRecord(record))
      .set(keys.hb(id), String(this.#incarnation), "PX", this.#config.heartbeatTtlMs);
    if (announce) tx.publish(keys.events, id);
    const results = await tx.exec();
    const failed =
      results === null ? new Error("heartbeat transaction aborted") : results.find(([e]) => e)?.[0];
    if (failed) throw failed;
    this.#onBeat?.(record);
  }

  /** Starts periodic beats. */
  start(): void {
    this.#timer ??= setInterval(() => this.tick(), this.#config.heartbeatIntervalMs).unref();
  }

  /** A beat now, unless one is still on its way. */
  tick(): void {
    if (this.#inFlight || this.#stopped) return;
    this.#inFlight = true;
    this.beat()
      .catch(this.#warn)
      .finally(() => {
        this.#inFlight = false;
      });
  }

  /** No more beats. The deregistration is sent after any beat already queued, on the same connection. */
  async deregister(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    const { keys, client } = this.#redis;
    const id = this.#last.id;
    await client
      .multi()
      .del(keys.hb(id))
      .del(keys.node(id))
      .srem(keys.members, id)
      .publish(keys.events, id)
      .exec();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }
}
