/**
 * The system under test spread over hosts: 5 nodes in 3 zones, 2 gateways, Redis master and 2
 * replicas, 3 Sentinels, and the clients' host (where the harness itself runs). Nodes and gateways
 * are real `dfs` processes run with `ip netns exec`, killed by pid.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { TEST_AUTHORITY_KEY, TEST_SECRET } from "../helpers/cluster.ts";
import { TEST_KEY } from "../helpers/gateway.ts";
import { CLI, type Proc, REPO_ROOT, startProcess } from "../helpers/proc.ts";
import type { Host, Hosts } from "./hosts.ts";
import { type RedisSet, startRedis } from "./redis.ts";
import { must } from "./sh.ts";

/** Where a run leaves its report, history and the logs of its processes. */
export const REPORT_DIR = resolve(REPO_ROOT, "test-results/partitions");
export const NODE_PORT = 7000;
export const GATEWAY_PORT = 8080;
export const API_KEY = "partition-harness-key-0123456789";
export const REPLICAS = 3;
export const CHUNK_BYTES = 64 * 1024;
/** Repair settings of the run: a node away this long has its share copied elsewhere. */
export const REPAIR_GRACE_MS = 5000;
export const REPAIR_INTERVAL_MS = 5000;
export const REPAIR_RATE_BYTES = 8 * 1024 * 1024;
/** Heartbeats: a node silent for HEARTBEAT_TTL_MS leaves the views (the stop faults outlast it). */
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;
/** The node whose data folder is a small tmpfs (the disk-full fault fills it). */
export const SMALL_DISK_NODE = "n5";
/**
 * Room for the node's share of a long run's data, so that only the fault's filler fills it. n5 is
 * zone z3's only node and holds a copy of everything: about 130 MiB a minute of the workload on a
 * quiet machine (512 MiB ran out in a 4-minute run). tmpfs takes memory only as it is filled.
 */
export const SMALL_DISK_BYTES = 3 * 1024 * 1024 * 1024;

export const NODE_ZONES: Readonly<Record<string, string>> = {
  n1: "z1",
  n2: "z1",
  n3: "z2",
  n4: "z2",
  n5: "z3",
};
export const HOST_NAMES = [
  "n1",
  "n2",
  "n3",
  "n4",
  "n5",
  "g1",
  "g2",
  "r1",
  "r2",
  "r3",
  "s1",
  "s2",
  "s3",
  "cl",
];

export interface Service {
  readonly name: string;
  readonly host: Host;
  proc: Proc;
  /** Starts the process again (after a SIGKILL), same address and data. */
  restart(): Promise<void>;
}

export interface Cluster {
  readonly hosts: Hosts;
  readonly redis: RedisSet;
  readonly nodes: Service[];
  readonly gateways: Service[];
  /** http://ip:port of each gateway. */
  readonly urls: string[];
  /** The tmpfs mounted for SMALL_DISK_NODE's data. */
  readonly smallDisk: string;
  stop(): Promise<void>;
}

const nodeEnv = (sentinels: string): NodeJS.ProcessEnv => ({
  DFS_CLUSTER_SECRET: TEST_SECRET,
  DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY,
  DFS_SENTINELS: sentinels,
  DFS_MASTER_NAME: "mymaster",
  DFS_REDIS_PREFIX: "dfs:",
  DFS_FSYNC: "false",
  DFS_RESERVE: "0",
  DFS_REPLICAS: String(REPLICAS),
  DFS_REPAIR_GRACE_MS: String(REPAIR_GRACE_MS),
  DFS_REPAIR_INTERVAL_MS: String(REPAIR_INTERVAL_MS),
  DFS_REPAIR_RATE: String(REPAIR_RATE_BYTES),
  DFS_HEARTBEAT_MS: String(HEARTBEAT_MS),
  DFS_HEARTBEAT_TTL_MS: String(HEARTBEAT_TTL_MS),
  LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
});

async function service(
  name: string,
  host: Host,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string,
): Promise<Service> {
  const launch = async () => {
    const proc = startProcess([CLI, ...args], { env, wrap: ["ip", "netns", "exec", host.ns] });
    await proc.waitForLog((l) => l.msg === ready, 60_000);
    return proc;
  };
  const s: Service = {
    name,
    host,
    proc: await launch(),
    async restart() {
      await s.proc.stop("SIGKILL");
      s.proc = await launch();
    },
  };
  return s;
}

/** Each process's warnings and errors (pino level 40 and up) to REPORT_DIR/logs/NAME.jsonl. */
async function saveLogs(services: readonly Service[]): Promise<void> {
  const dir = join(REPORT_DIR, "logs");
  await mkdir(dir, { recursive: true });
  for (const s of services) {
    const lines = s.proc.logs.filter((l) => Number(l.level) >= 40 || l.raw === true);
    await writeFile(join(dir, `${s.name}.jsonl`), lines.map((l) => JSON.stringify(l)).join("\n"));
  }
}

/** Starts Redis, then the nodes, then the gateways; stops what started when a step fails. */
export async function startCluster(hosts: Hosts, dir: string): Promise<Cluster> {
  const redis = await startRedis(
    join(dir, "redis"),
    ["r1", "r2", "r3"].map((n) => hosts.get(n)),
    ["s1", "s2", "s3"].map((n) => hosts.get(n)),
  );
  const nodes: Service[] = [];
  const gateways: Service[] = [];
  const smallDisk = join(dir, `data-${SMALL_DISK_NODE}`);
  let mounted = false;
  const cluster: Cluster = {
    hosts,
    redis,
    nodes,
    gateways,
    urls: ["g1", "g2"].map((g) => `http://${hosts.get(g).ip}:${GATEWAY_PORT}`),
    smallDisk,
    async stop() {
      await Promise.all([...gateways, ...nodes].map((s) => s.proc.stop("SIGKILL")));
      await saveLogs([...gateways, ...nodes]);
      await redis.stopAll();
      if (mounted) await must("umount", ["-l", smallDisk]).catch(() => {});
    },
  };
  try {
    await mkdir(smallDisk, { recursive: true });
    await must("mount", ["-t", "tmpfs", "-o", `size=${SMALL_DISK_BYTES}`, "tmpfs", smallDisk]);
    mounted = true;
    const env = nodeEnv(redis.sentinelAddrs);
    const started = await Promise.all(
      Object.entries(NODE_ZONES).map(async ([name, zone]) => {
        const host = hosts.get(name);
        const data = join(dir, `data-${name}`);
        await mkdir(data, { recursive: true });
        const addr = `${host.ip}:${NODE_PORT}`;
        return service(
          name,
          host,
          ["node", "--listen", addr, "--advertise", addr, "--zone", zone, "--data", data],
          env,
          "node listening",
        );
      }),
    );
    nodes.push(...started);
    const gatewayEnv = {
      ...env,
      DFS_CLUSTER_KEY: TEST_KEY,
      DFS_API_KEYS: API_KEY,
      DFS_CHUNK_SIZE: String(CHUNK_BYTES),
      DFS_INLINE_MAX: "0",
    };
    gateways.push(
      ...(await Promise.all(
        ["g1", "g2"].map((name) => {
          const host = hosts.get(name);
          return service(
            name,
            host,
            ["gateway", "--listen", `${host.ip}:${GATEWAY_PORT}`],
            gatewayEnv,
            "gateway listening",
          );
        }),
      )),
    );
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
