import { spawnSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DfsError } from "../errors.ts";
import { type Child, startDfs, stopChildren } from "./children.ts";
import { startTopology, type Topology } from "./redis-topology.ts";
import { devSecret, newKey, newSecret } from "./secrets.ts";

export interface DevOptions {
  nodes: number;
  /** The gateway's port on 127.0.0.1. */
  port: number;
  /** The S3 API's port on 127.0.0.1. */
  s3Port: number;
  dataDir: string;
  /** Where progress lines go (the terminal). */
  print: (line: string) => void;
}

export interface DevCluster {
  readonly url: string;
  /** The S3 API's URL. */
  readonly s3Url: string;
  readonly sentinels: string[];
  readonly nodes: { name: string; addr: string }[];
  /** Stops the gateway, then the nodes, then Redis; every process by pid. Idempotent. */
  stop(): Promise<void>;
}

function checkRedis(): void {
  const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      [
        "redis-server was not found on PATH; dfs dev runs Redis and its Sentinels from it.",
        "  Debian/Ubuntu: sudo apt-get install redis-server",
        "  macOS:         brew install redis",
        "  or run the whole cluster in containers: docker compose up",
      ].join("\n"),
    );
  }
}

/**
 * A whole cluster on 127.0.0.1: Redis master + replica + 3 Sentinels, `nodes` storage nodes and a
 * gateway, data under one folder. Secrets are created once there, so a second start finds its files.
 */
export async function startDevCluster(options: DevOptions): Promise<DevCluster> {
  checkRedis();
  const dataDir = resolve(options.dataDir);
  const logs = join(dataDir, "logs");
  await mkdir(logs, { recursive: true });
  const secretFile = join(dataDir, "cluster.secret");
  const keyFile = join(dataDir, "cluster.key");
  await devSecret(secretFile, newSecret);
  await devSecret(keyFile, newKey);
  // The authority's seed: each dev process issues its own credential (never in production).
  const authorityFile = join(dataDir, "authority.key");
  await devSecret(authorityFile, newKey);

  const children: Child[] = [];
  let topology: Topology | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Gateway first (it drains uploads), then nodes (they deregister), then Redis.
    await stopChildren(children.filter((c) => c.name === "gateway"));
    await stopChildren(children.filter((c) => c.name !== "gateway"));
    await topology?.stopAll();
  };

  try {
    options.print("starting Redis (master, replica, 3 Sentinels)...");
    topology = await startTopology({ dir: join(dataDir, "redis") });
    const sentinels = topology.sentinels.map((s) => `${s.host}:${s.port}`);
    const registry = ["--sentinels", sentinels.join(","), "--master-name", topology.masterName];
    const env = { DFS_CLUSTER_SECRET_FILE: secretFile, DFS_AUTHORITY_KEY_FILE: authorityFile };

    options.print(`starting ${options.nodes} storage nodes...`);
    for (let i = 1; i <= options.nodes; i++) {
      const name = `node-${i}`;
      const args = [
        "node",
        "--listen",
        "127.0.0.1:0",
        "--data",
        join(dataDir, name),
        "--zone",
        `zone-${i}`,
        ...registry,
      ];
      children.push(startDfs(name, args, env, join(logs, `${name}.log`), "node listening"));
    }
    const nodeLines = await Promise.all(children.map((c) => c.ready));
    const nodes = children.map((c, i) => ({ name: c.name, addr: String(nodeLines[i]!.address) }));

    options.print("starting the gateway...");
    const gateway = startDfs(
      "gateway",
      [
        "gateway",
        "--listen",
        `127.0.0.1:${options.port}`,
        "--s3-listen",
        `127.0.0.1:${options.s3Port}`,
        ...registry,
      ],
      { ...env, DFS_CLUSTER_KEY_FILE: keyFile },
      join(logs, "gateway.log"),
      "gateway listening",
    );
    children.push(gateway);
    const line = await gateway.ready;
    return {
      url: `http://${String(line.address)}`,
      s3Url: `http://${String(line.s3)}`,
      sentinels,
      nodes,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
