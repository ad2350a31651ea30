import { once } from "node:events";
import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import { parseHostPort, type RegistryConfig } from "../config/index.ts";
import { DfsError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { withDeadline } from "./deadline.ts";
import { type RegistryKeys, registryKeys } from "./keys.ts";
import { registryLogger, throttledWarn } from "./log.ts";
import type { SentinelAuth } from "./sentinel-query.ts";
import { acquireWatcher } from "./watcher.ts";

/** Every registry connection carries this name (CLIENT LIST shows where our clients are). */
export const CONNECTION_NAME = "dfs-registry";

/**
 * The registry's connections to Redis: one command client plus any subscriber connections, all set
 * up the same way, with the settings measured to follow a Sentinel failover within ~0.1 s without
 * losing or failing queued writes (Redis 7.0, ioredis 6.0).
 */
export interface RegistryRedis {
  /** Command connection. Never ends by itself: it reconnects, follows failovers and queues meanwhile. */
  readonly client: Redis;
  readonly keys: RegistryKeys;
  /** A further connection with the same settings (for SUBSCRIBE), closed with this one. */
  duplicate(): Redis;
  /** Closes one connection made by duplicate(). */
  drop(client: Redis): Promise<void>;
  /** The last error a connection reported (a refused AUTH, a TLS failure), if any. */
  lastError(): Error | undefined;
  /** QUITs every connection (bounded wait, then drops them). Idempotent. */
  close(): Promise<void>;
}

const SOCKET_TIMEOUT_MS = 5000;

/** READONLY: a manual SENTINEL FAILOVER or a role change without disconnect. 2 = reconnect + resend. */
const reconnectOnReadonly = (err: Error): 2 | false => (/READONLY/.test(err.message) ? 2 : false);

/** TLS options for ioredis from the registry's settings; undefined when TLS is off. */
export function tlsOptions(config: RegistryConfig): ConnectionOptions | undefined {
  if (!config.tls) return undefined;
  const m = config.tlsMaterial ?? {};
  return { ...(m.ca && { ca: m.ca }), ...(m.cert && { cert: m.cert }), ...(m.key && { key: m.key }) };
}

/** What every connection to a Sentinel (client, watcher, query) logs in with. */
export function sentinelAuth(config: RegistryConfig): SentinelAuth {
  return {
    username: config.sentinelUsername,
    password: config.sentinelPassword,
    tls: tlsOptions(config),
  };
}

function baseOptions(config: RegistryConfig): RedisOptions {
  const tls = tlsOptions(config);
  return {
    connectionName: CONNECTION_NAME,
    ...(config.username !== undefined && { username: config.username }),
    ...(config.password !== undefined && { password: config.password }),
    ...(tls && { tls }),
    // Fast and bounded: tracks a ~2.3 s failover within ~0.1 s; the default backoff adds ~1.4 s.
    retryStrategy: (times) => Math.min(50 * times, 200) + Math.floor(Math.random() * 50),
    // With fast retries the default (20) fails every queued command after ~2 s, before a failover
    // ends. Commands wait instead; callers bound their own latency.
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    reconnectOnError: reconnectOnReadonly,
    connectTimeout: 2000,
    // A reply pending this long means a hung or cut-off peer (no RST): drop the socket, reconnect
    // through Sentinel and resend (writes are idempotent). TCP keepalive alone takes ~11 min with OS
    // defaults. Idle connections (subscribers) are never timed out. The watcher acts first on a
    // failover; this also covers a partition that Sentinel does not see.
    socketTimeout: SOCKET_TIMEOUT_MS,
    keepAlive: 5000,
    // close() -> disconnect() arms a timer of this length that only a later "close" clears; on an
    // already-closed socket it would keep the process alive for the default 2 s.
    disconnectTimeout: 200,
    ...(config.sentinelAddrs.length > 0
      ? {
          sentinels: config.sentinelAddrs.map((a) => parseHostPort(a)!),
          name: config.masterName,
          role: "master" as const,
          // Ends clients for good in ioredis 6.0.0 (3 of 25 failovers measured); SwitchWatcher instead.
          failoverDetector: false,
          sentinelRetryStrategy: (times: number) => Math.min(times * 10, 1000),
          // A frozen Sentinel must not stall master resolution.
          sentinelCommandTimeout: 1000,
          ...(config.sentinelUsername !== undefined && { sentinelUsername: config.sentinelUsername }),
          ...(config.sentinelPassword !== undefined && { sentinelPassword: config.sentinelPassword }),
          ...(tls && { enableTLSForSentinelMode: true, sentinelTLS: tls }),
        }
      : {}),
  };
}

/**
 * Connects to the registry's Redis: through Sentinels (`sentinelAddrs` + `masterName`), or a plain
 * `url` (development only). Errors are logged (throttled), never thrown from an event.
 */
export function createRedis(config: RegistryConfig, logger: Logger): RegistryRedis {
  const useSentinels = config.sentinelAddrs.length > 0;
  if (!useSentinels && config.url === undefined) {
    throw new DfsError("DFS_ERR_CONFIG", "redis: set sentinelAddrs + masterName, or url");
  }
  const log = registryLogger(logger);
  const held = useSentinels
    ? acquireWatcher(
        config.sentinelAddrs.map((a) => parseHostPort(a)!),
        config.masterName,
        log,
        sentinelAuth(config),
      )
    : undefined;
  const clients = new Set<Redis>();
  let closing = false;
  const throttled = throttledWarn(log, "registry: redis connection error");
  let lastError: Error | undefined;
  const warn = (err: Error) => {
    lastError = err;
    throttled(err);
  };

  const open = (): Redis => {
    const options = baseOptions(config);
    const client =
      config.url !== undefined && !useSentinels ? new Redis(config.url, options) : new Redis(options);
    client.on("error", warn);
    // Belt and braces: an ended client never comes back by itself (ioredis ends one on a connector
    // error it cannot retry). Connecting the same object again keeps every holder's reference valid.
    client.on("end", () => {
      if (closing) return;
      log.warn("registry: redis client ended; connecting again");
      setTimeout(() => {
        if (!closing && client.status === "end") client.connect().catch(() => {});
      }, 200).unref();
    });
    clients.add(client);
    held?.watcher.track(client);
    return client;
  };

  const shut = async (c: Redis) => {
    clients.delete(c);
    held?.watcher.untrack(c);
    c.removeAllListeners("end");
    if (c.status === "ready") await withDeadline(c.quit(), 1000, "redis quit").catch(() => {});
    if (c.status === "end") return;
    // Resolve only once the socket is gone, so nothing outlives close().
    const ended = once(c, "end");
    c.disconnect();
    await withDeadline(ended, 1000, "redis disconnect").catch(() => {});
  };

  const client = open();
  return {
    client,
    keys: registryKeys(config.prefix),
    duplicate: open,
    drop: shut,
    lastError: () => lastError,
    async close() {
      if (closing) return;
      closing = true;
      await Promise.all([...clients].map(shut));
      held?.release();
    },
  };
}
