import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { request } from "undici";
import { startTopology, type Topology } from "../../src/dev/redis-topology.ts";
import { SERVICE_NODE_FLAGS } from "../../src/runtime.ts";
import { type Child, startChild } from "../lib/procs.ts";

/**
 * A local cluster as `dfs dev` runs it (Redis master + replica + 3 Sentinels, `dfs node` processes
 * with fsync on, one `dfs gateway`), started with the bench's own helpers rather than
 * startDevCluster: the bench needs every child's pid (CPU, RSS) and its node flags (--cpu-prof).
 */
export interface BenchCluster {
  url: string;
  gateway: Child;
  nodes: Child[];
  /** gateway and node-1..N by pid, for the cases' roles. */
  roles: Record<string, number>;
  /** What the cluster's processes share: a bench client makes its own credential from them. */
  secrets: { clusterSecret: string; authorityKey: string };
  /** With `access`: the gateway's API key (every permission), sent as `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** With `access`: the S3 listener's URL. */
  s3Url?: string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  nodeFlags: string[];
  /** The dfs CLI script the children run, relative to the repository root (see dfsEntry). */
  entry: string;
  /** Node settings over NODE_ENV (bench/background-load.ts runs them with the defaults). */
  nodeEnv?: Record<string, string>;
  /** How long a node may take to open its store and listen (default 15 s; a million objects take longer). */
  readyTimeoutMs?: number;
  /**
   * Run the gateway with an API key, as production does (so S3 signatures are checked), and with
   * its S3 listener on a free port.
   */
  access?: boolean;
}

/**
 * The nodes run as `npm start` (`dfs dev`) runs them: background work (repair and sync rounds,
 * scrub, GC) on its default periods, fsync on. bench/background-load.ts measured what the rounds
 * cost uploads: within the noise (99.3% of the MiB/s, 100.5% of the CPU per GiB).
 */
const NODE_ENV = { DFS_FSYNC: "true" };

async function waitLive(
  url: string,
  count: number,
  timeoutMs = 20_000,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await request(`${url}/v1/nodes`, { headers });
      const body = (await res.body.json()) as { nodes?: { state: string }[] };
      const live = (body.nodes ?? []).filter((n) => n.state === "live").length;
      if (live === count) return;
      last = `${live} live`;
    } catch (err) {
      last = (err as Error).message;
    }
    await delay(100);
  }
  throw new Error(`the gateway did not see ${count} live nodes within ${timeoutMs} ms (${last})`);
}

export async function startBenchCluster(root: string, o: ClusterOptions): Promise<BenchCluster> {
  const topology: Topology = await startTopology({ dir: join(root, "redis") });
  const started: Child[] = [];
  const close = async () => {
    // Gateway first (it drains uploads), then the nodes, then Redis: every process by pid.
    await Promise.all(started.filter((c) => c.name === "gateway").map((c) => c.stop()));
    await Promise.all(started.filter((c) => c.name !== "gateway").map((c) => c.stop()));
    await topology.stopAll();
  };
  try {
    const registry = [
      "--sentinels",
      topology.sentinels.map((s) => `${s.host}:${s.port}`).join(","),
      "--master-name",
      topology.masterName,
    ];
    // The key is the gateway's alone: nodes never get it.
    // Every process issues itself a credential from this authority seed, as under `dfs dev`.
    const secret = {
      DFS_CLUSTER_SECRET: randomBytes(24).toString("hex"),
      DFS_AUTHORITY_KEY: randomBytes(32).toString("hex"),
    };
    const key = { DFS_CLUSTER_KEY: randomBytes(32).toString("hex") };
    const apiKey = o.access ? randomBytes(24).toString("hex") : undefined;
    const cli = o.entry;
    const nodes = await Promise.all(
      Array.from({ length: o.nodes }, async (_, i) => {
        const name = `node-${i + 1}`;
        const args = [cli, "node", "--listen", "127.0.0.1:0", "--data", join(root, name)];
        const child = await startChild({
          name,
          args: [...args, "--zone", `zone-${i + 1}`, ...registry],
          env: { ...secret, ...NODE_ENV, ...o.nodeEnv },
          nodeFlags: [...SERVICE_NODE_FLAGS, ...o.nodeFlags],
          isReady: (line) => line.msg === "node listening",
          ...(o.readyTimeoutMs === undefined ? {} : { timeoutMs: o.readyTimeoutMs }),
        });
        started.push(child);
        return child;
      }),
    );
    const gateway = await startChild({
      name: "gateway",
      args: [
        cli,
        "gateway",
        "--listen",
        "127.0.0.1:0",
        ...(o.access ? ["--s3-listen", "127.0.0.1:0"] : []),
        ...registry,
      ],
      env: { ...secret, ...key, ...(apiKey === undefined ? {} : { DFS_API_KEYS: apiKey }) },
      nodeFlags: [...SERVICE_NODE_FLAGS, ...o.nodeFlags],
      isReady: (line) => line.msg === "gateway listening",
    });
    started.push(gateway);
    const url = `http://${gateway.address}`;
    const auth: Record<string, string> = apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` };
    await waitLive(url, o.nodes, o.readyTimeoutMs, auth);
    const roles: Record<string, number> = { gateway: gateway.pid };
    for (const n of nodes) roles[n.name] = n.pid;
    const secrets = { clusterSecret: secret.DFS_CLUSTER_SECRET, authorityKey: secret.DFS_AUTHORITY_KEY };
    const s3 = gateway.ready.s3;
    const s3Url = typeof s3 === "string" ? `http://${s3}` : undefined;
    if (o.access && s3Url === undefined) throw new Error("the gateway's ready line names no S3 address");
    return { url, gateway, nodes, roles, secrets, close, ...(o.access ? { apiKey, s3Url } : {}) };
  } catch (err) {
    await close();
    throw err;
  }
}
