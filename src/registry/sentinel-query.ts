import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import type { HostPort } from "../config/index.ts";

/** How connections to the Sentinels log in: ACL user and password, and TLS when on. */
export interface SentinelAuth {
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: ConnectionOptions | undefined;
}

/** ioredis options of SentinelAuth. */
export function sentinelLogin(auth: SentinelAuth | undefined): {
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
} {
  return {
    ...(auth?.username !== undefined && { username: auth.username }),
    ...(auth?.password !== undefined && { password: auth.password }),
    ...(auth?.tls && { tls: auth.tls }),
  };
}

/** A short-lived connection to one Sentinel: no retries, no offline queue, 1 s timeouts. */
export function sentinelClient({ host, port }: HostPort, auth: SentinelAuth | undefined): Redis {
  const client = new Redis({
    host,
    port,
    ...sentinelLogin(auth),
    protocol: 2,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    connectTimeout: 1000,
    commandTimeout: 1000,
    disconnectTimeout: 50,
  });
  client.on("error", () => {});
  return client;
}

export interface MasterAnswer {
  /** "ip:port" */
  readonly addr: string;
  readonly epoch: number;
  /** Every Sentinel asked answered: no newer configuration can be hiding behind a silent one. */
  readonly complete: boolean;
}

/**
 * The master by Sentinel's own rule: of the Sentinels that answer, the configuration with the
 * highest config-epoch wins (a Sentinel that lags behind a failover still has the older epoch; a
 * majority vote would pick the stale address). Undefined when none answers.
 */
export async function currentMaster(
  sentinels: readonly HostPort[],
  masterName: string,
  auth?: SentinelAuth,
): Promise<MasterAnswer | undefined> {
  const answers = await Promise.all(sentinels.map((s) => askOne(s, masterName, auth)));
  let best: { addr: string; epoch: number } | undefined;
  for (const a of answers) if (a && (best === undefined || a.epoch > best.epoch)) best = a;
  return best && { ...best, complete: answers.every((a) => a !== undefined) };
}

async function askOne(
  at: HostPort,
  masterName: string,
  auth: SentinelAuth | undefined,
): Promise<{ addr: string; epoch: number } | undefined> {
  const client = sentinelClient(at, auth);
  try {
    await client.connect();
    const reply = await client.call("SENTINEL", "master", masterName);
    if (!Array.isArray(reply)) return undefined;
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) f.set(String(reply[i]), String(reply[i + 1]));
    const ip = f.get("ip");
    const p = f.get("port");
    return ip && p ? { addr: `${ip}:${p}`, epoch: Number(f.get("config-epoch") ?? 0) } : undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}
