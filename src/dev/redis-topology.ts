/**
 * A real Redis Sentinel topology: 1 master, N replicas (default 1) and 3 Sentinels, each a
 * `redis-server` child process on a free loopback port, all under one folder. Sentinels are seeded
 * (ids, known sentinels, known replicas) so the topology is healthy in about 1.5 s instead of 3 s.
 * `dfs dev` and the bench run their Redis from it; tests add failure controls in
 * test/helpers/redis-topology.ts. `stopAll()` stops every process by pid. Also a lone redis-server.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  dataConf,
  type SentinelSeed,
  type SentinelSettings,
  sentinelConf,
  topologyDir,
} from "./redis-conf.ts";
import { unhealthyReason } from "./redis-health.ts";
import { type Address, freePorts, HOST, RedisProcess } from "./redis-process.ts";

export type { Address } from "./redis-process.ts";

export interface TopologyOptions {
  /** Where configs and logs go (emptied first, kept at stop); default: a temp dir, removed at stop. */
  dir?: string;
  masterName?: string;
  replicas?: number;
  sentinels?: number;
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

export interface Topology {
  readonly dir: string;
  readonly masterName: string;
  readonly sentinels: Address[];
  /** Ports of the data nodes (master and replicas), in start order. */
  readonly dataPorts: number[];
  /** Every process of the topology by port: data nodes first, in start order, then Sentinels. */
  readonly processes: ReadonlyMap<number, RedisProcess>;
  /**
   * Waits until every running Sentinel agrees on a master that is up and not failing over, and every
   * running replica replicates it with its link up.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every process by pid (Sentinels first, so they do not fail over) and removes a temp dir. */
  stopAll(): Promise<void>;
}

type Settings = Required<Omit<TopologyOptions, "dir">> & SentinelSettings;

async function startOnce(options: Settings, where: string | undefined): Promise<Topology> {
  const tmp = await topologyDir(where);
  const dir = tmp.path;
  const ports = await freePorts(1 + options.replicas + options.sentinels);
  const [masterPort, ...rest] = ports as [number, ...number[]];
  const replicaPorts = rest.slice(0, options.replicas);
  const seeds: SentinelSeed[] = rest
    .slice(options.replicas)
    .map((port) => ({ port, id: randomBytes(20).toString("hex") }));
  const processes = new Map<number, RedisProcess>();
  const add = async (port: number, kind: RedisProcess["kind"], text: string) => {
    const prefix = kind === "sentinel" ? "sentinel" : "redis";
    await mkdir(join(dir, `${prefix}-${port}`), { recursive: true });
    const conf = join(dir, `${prefix}-${port}.conf`);
    await writeFile(conf, text);
    processes.set(port, new RedisProcess(port, kind, conf));
  };
  await add(masterPort, "data", dataConf(dir, masterPort, undefined));
  for (const p of replicaPorts) await add(p, "data", dataConf(dir, p, masterPort));
  for (const s of seeds) {
    const others = seeds.filter((x) => x !== s);
    await add(s.port, "sentinel", sentinelConf(dir, s, others, options, masterPort, replicaPorts));
  }

  const all = [...processes.values()];
  const topology: Topology = {
    dir,
    masterName: options.masterName,
    sentinels: seeds.map((s) => ({ host: HOST, port: s.port })),
    dataPorts: [masterPort, ...replicaPorts],
    processes,
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let why = "";
      for (;;) {
        try {
          why = await unhealthyReason(topology);
          if (why === "") return;
        } catch (err) {
          why = (err as Error).message;
        }
        if (Date.now() > deadline) throw new Error(`topology not healthy after ${timeoutMs} ms: ${why}`);
        await delay(100);
      }
    },
    async stopAll() {
      await Promise.all(all.filter((p) => p.kind === "sentinel").map((p) => p.stop()));
      await Promise.all(all.filter((p) => p.kind === "data").map((p) => p.stop()));
      await tmp.remove();
    },
  };

  try {
    // Data nodes first: Sentinels that start before their master would count it down.
    for (const p of all.filter((x) => x.kind === "data")) await p.start();
    await Promise.all(all.filter((x) => x.kind === "sentinel").map((p) => p.start()));
    await topology.waitHealthy(15_000);
    return topology;
  } catch (err) {
    await topology.stopAll();
    throw err;
  }
}

/** A lone redis-server (a master with no Sentinel): the bench's node cases and tests use one. */
export async function startRedisServer(): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const tmp = await topologyDir(undefined);
    const [port] = (await freePorts(1)) as [number];
    await mkdir(join(tmp.path, `redis-${port}`), { recursive: true });
    const conf = join(tmp.path, `redis-${port}.conf`);
    await writeFile(conf, dataConf(tmp.path, port, undefined));
    const proc = new RedisProcess(port, "data", conf);
    try {
      await proc.start();
    } catch (err) {
      await proc.stop();
      await tmp.remove();
      if (attempt === 3) throw err;
      continue;
    }
    return {
      port,
      pid: proc.pid!,
      async stop() {
        await proc.stop();
        await tmp.remove();
      },
    };
  }
}

/** Starts a topology; retries on fresh ports when one was taken between picking and binding. */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const o: Settings = {
    masterName: options.masterName ?? "mymaster",
    replicas: options.replicas ?? 1,
    sentinels: options.sentinels ?? 3,
    quorum: options.quorum ?? 2,
    downAfterMs: options.downAfterMs ?? 1000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 3000,
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(o, options.dir);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
