import { type HostPort, parseHostPort, type RegistryConfig } from "../config/index.ts";
import { sentinelAuth } from "./redis.ts";
import { sentinelClient } from "./sentinel-query.ts";

/** One Redis server as Sentinel describes it. */
export interface SentinelPeer {
  readonly addr: string;
  /** Sentinel's flags: "master", "slave", "s_down", "o_down", "disconnected"... */
  readonly flags: string[];
}

/** The registry's Redis as the Sentinels see it: for operators (the web console's cluster page). */
export interface SentinelTopology {
  readonly masterName: string;
  /** From the Sentinel with the highest config epoch; undefined when none answers. */
  readonly master: (SentinelPeer & { readonly epoch: number }) | undefined;
  readonly replicas: SentinelPeer[];
  /** Each configured Sentinel and whether it answered. */
  readonly sentinels: { readonly addr: string; readonly answered: boolean }[];
}

type Fields = Map<string, string>;

function fieldsOf(reply: unknown): Fields {
  const f = new Map<string, string>();
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) f.set(String(reply[i]), String(reply[i + 1]));
  return f;
}

const peerOf = (f: Fields): SentinelPeer => ({
  addr: `${f.get("ip") ?? "?"}:${f.get("port") ?? "?"}`,
  flags: (f.get("flags") ?? "").split(",").filter((x) => x !== ""),
});

async function ask(
  at: HostPort,
  config: RegistryConfig,
): Promise<{ master: Fields; replicas: Fields[] } | undefined> {
  const client = sentinelClient(at, sentinelAuth(config));
  try {
    await client.connect();
    const master = fieldsOf(await client.call("SENTINEL", "master", config.masterName));
    const replicas = await client.call("SENTINEL", "replicas", config.masterName);
    return { master, replicas: Array.isArray(replicas) ? replicas.map(fieldsOf) : [] };
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/**
 * Asks every configured Sentinel for the master and its replicas (one short connection each);
 * undefined for a registry reached by URL, without Sentinels.
 */
export async function sentinelTopology(config: RegistryConfig): Promise<SentinelTopology | undefined> {
  if (config.sentinelAddrs.length === 0) return undefined;
  const addrs = config.sentinelAddrs.map((a) => parseHostPort(a)!);
  const answers = await Promise.all(addrs.map((a) => ask(a, config)));
  let best: { master: Fields; replicas: Fields[] } | undefined;
  const epoch = (f: Fields) => Number(f.get("config-epoch") ?? 0);
  for (const a of answers) if (a && (best === undefined || epoch(a.master) > epoch(best.master))) best = a;
  return {
    masterName: config.masterName,
    master: best && { ...peerOf(best.master), epoch: epoch(best.master) },
    replicas: best?.replicas.map(peerOf) ?? [],
    sentinels: config.sentinelAddrs.map((addr, i) => ({ addr, answered: answers[i] !== undefined })),
  };
}
