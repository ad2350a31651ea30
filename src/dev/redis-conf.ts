/** Config files for the redis-server processes of a topology, and the folder they live in. */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST } from "./redis-process.ts";

/** A folder for the processes' configs and logs: the given one (kept), or a fresh temp dir (removed at stop). */
export async function topologyDir(
  dir: string | undefined,
): Promise<{ path: string; remove: () => Promise<void> }> {
  if (dir !== undefined) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return { path: dir, remove: async () => {} };
  }
  const path = await mkdtemp(join(tmpdir(), "dfs-redis-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A data node: no persistence, fast diskless replication, keyspace events on. It binds `host` and
 * replicates `masterHost` (both loopback unless told: the partition harness puts each on a host).
 */
export function dataConf(
  dir: string,
  port: number,
  masterPort: number | undefined,
  host = HOST,
  masterHost = HOST,
): string {
  return [
    `bind ${host}`,
    `port ${port}`,
    "protected-mode no",
    "daemonize no",
    `logfile ${join(dir, `redis-${port}.log`)}`,
    `dir ${join(dir, `redis-${port}`)}`,
    'save ""',
    "appendonly no",
    "repl-diskless-sync yes",
    "repl-diskless-sync-delay 0",
    "repl-ping-replica-period 1",
    "notify-keyspace-events KEA",
    ...(masterPort === undefined ? [] : [`replicaof ${masterHost} ${masterPort}`]),
    "",
  ].join("\n");
}

export interface SentinelSeed {
  port: number;
  id: string;
}

export interface SentinelSettings {
  masterName: string;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
}

/** A Sentinel seeded with its id and the other Sentinels and replicas it would otherwise discover. */
export function sentinelConf(
  dir: string,
  self: SentinelSeed,
  others: SentinelSeed[],
  o: SentinelSettings,
  masterPort: number,
  replicaPorts: number[],
): string {
  const name = o.masterName;
  return [
    `bind ${HOST}`,
    `port ${self.port}`,
    "protected-mode no",
    "daemonize no",
    `logfile ${join(dir, `sentinel-${self.port}.log`)}`,
    `dir ${join(dir, `sentinel-${self.port}`)}`,
    "sentinel resolve-hostnames no",
    "sentinel announce-hostnames no",
    `sentinel myid ${self.id}`,
    `sentinel monitor ${name} ${HOST} ${masterPort} ${o.quorum}`,
    `sentinel down-after-milliseconds ${name} ${o.downAfterMs}`,
    `sentinel failover-timeout ${name} ${o.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    // Seeding skips about 2 s of hello-based discovery.
    ...others.map((x) => `sentinel known-sentinel ${name} ${HOST} ${x.port} ${x.id}`),
    ...replicaPorts.map((p) => `sentinel known-replica ${name} ${HOST} ${p}`),
    "",
  ].join("\n");
}
