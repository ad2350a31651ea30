import { join } from "node:path";
import { after, before } from "node:test";
import { type Role, resolveTrust } from "../../src/credentials/index.ts";
import { isDfsError } from "../../src/errors.ts";
import { type LinkTrust, NodeClient, type NodeClientOptions } from "../../src/transport/index.ts";
import { sha256 } from "./data.ts";
import { CLI, type Proc, startProcess } from "./proc.ts";
import { startRedisServer } from "./redis-topology.ts";
import { makeTempDir } from "./tmp.ts";

export const TEST_SECRET = "test-cluster-secret-0123456789";
/** The test cluster's authority seed (hex): every process issues itself a credential from it. */
export const TEST_AUTHORITY_KEY = "a7".repeat(32);

/** A process's side of the node link in tests: a credential of `role` for `id` from the test authority. */
export function testTrust(
  role: Role = "gateway",
  id = "test-gateway",
  authorityKey = TEST_AUTHORITY_KEY,
): LinkTrust {
  const sources = {
    authorityPublicKey: undefined,
    authoritySeed: Buffer.from(authorityKey, "hex"),
    identityText: undefined,
  };
  return { ...resolveTrust(sources, role, id), secret: Buffer.from(TEST_SECRET) };
}

/** A NodeClient holding a test credential (a gateway's unless told otherwise). */
export function testNodeClient(
  role: Role = "gateway",
  id = `test-${role}`,
  options: Omit<NodeClientOptions, "trust"> = {},
): NodeClient {
  return new NodeClient({ trust: testTrust(role, id), ...options });
}

export interface NodeProc {
  proc: Proc;
  addr: string;
  nodeId: string;
  dataDir: string;
  /** Stops the process (SIGTERM by default) and waits for it. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartNodeOptions {
  dataDir: string;
  /** Extra CLI flags, e.g. registry settings. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reuse a port (restart at the same address); default: a free one. */
  port?: number;
}

/** Starts a real `dfs node` process and waits until it listens. */
export async function startNode(options: StartNodeOptions): Promise<NodeProc> {
  const proc = startProcess(
    [
      CLI,
      "node",
      "--listen",
      `127.0.0.1:${options.port ?? 0}`,
      "--data",
      options.dataDir,
      ...(options.args ?? []),
    ],
    {
      env: {
        DFS_CLUSTER_SECRET: TEST_SECRET,
        DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY,
        DFS_RESERVE: "0",
        ...options.env,
      },
    },
  );
  let line: Record<string, unknown>;
  try {
    line = await proc.waitForLog((l) => l.msg === "node listening", 30_000);
  } catch (err) {
    // Not listening in time: a process left running would outlive the test file and keep it from
    // ending (its pipes stay open).
    await proc.stop("SIGKILL");
    throw err;
  }
  return {
    proc,
    addr: String(line.address),
    nodeId: String(line.nodeId),
    dataDir: options.dataDir,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      await proc.stop(signal);
    },
  };
}

/** Starts `count` nodes with data dirs under `root` (node-0, node-1, ...). */
export async function startNodes(
  root: string,
  count: number,
  options: Omit<StartNodeOptions, "dataDir"> = {},
): Promise<NodeProc[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => startNode({ ...options, dataDir: join(root, `node-${i}`) })),
  );
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    // The ones that did start would otherwise outlive the test file and keep it running.
    await stopAll(nodes);
    throw failed.reason;
  }
  return nodes;
}

export async function stopAll(nodes: readonly NodeProc[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
}

/** Registry settings for nodes that must see each other quickly (heartbeat 200 ms, TTL 2 s). */
export function registryFlags(redisPort: number, prefix: string): Pick<StartNodeOptions, "args" | "env"> {
  return {
    args: ["--redis", `redis://127.0.0.1:${redisPort}`, "--redis-prefix", prefix],
    env: { DFS_HEARTBEAT_MS: "200", DFS_HEARTBEAT_TTL_MS: "2000" },
  };
}

/**
 * Resolves once every node accepts every other as a forward address (its registry view lists
 * them live). Probes with a PUT whose bytes do not match their id: nothing is stored anywhere.
 */
export async function waitForMesh(client: NodeClient, nodes: readonly NodeProc[], timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs;
  const probe = Buffer.from("mesh probe");
  const wrongId = sha256(Buffer.from("not the probe"));
  for (const from of nodes) {
    for (const to of nodes) {
      if (to === from) continue;
      for (;;) {
        const refused = await client
          .put(from.addr, wrongId, probe, probe.length, { forward: [to.addr] })
          .then(
            () => false,
            (err: unknown) => isDfsError(err, "DFS_ERR_FORWARD_REFUSED"),
          );
        if (!refused) break;
        if (performance.now() > deadline)
          throw new Error(`${from.addr} never accepted ${to.addr} as a forward`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/**
 * `count` real nodes in a temp dir, registered in a lone redis-server so that chain PUTs between
 * them are accepted, and a client, for the suite this is called in: started before its tests,
 * stopped (by pid) and the dir removed after. `nodes`, `dir` and `redis` are filled in before().
 */
export function nodesForSuite(count: number): {
  nodes: NodeProc[];
  client: NodeClient;
  dir: { path: string };
  redis: { port: number; prefix: string };
} {
  const nodes: NodeProc[] = [];
  const dir = { path: "" };
  const redis = { port: 0, prefix: `suite-${process.pid}-${Math.random().toString(36).slice(2, 8)}` };
  const client = testNodeClient("node", "test-peer");
  let remove: (() => Promise<void>) | undefined;
  let stopRedis: (() => Promise<void>) | undefined;
  before(async () => {
    const tmp = await makeTempDir();
    remove = () => tmp.remove();
    dir.path = tmp.path;
    const server = await startRedisServer();
    stopRedis = () => server.stop();
    redis.port = server.port;
    const registry = registryFlags(server.port, redis.prefix);
    // Registered nodes heal; these suites count what they stored themselves, so not within the hour.
    const env = { ...registry.env, DFS_REPAIR_INTERVAL_MS: "3600000" };
    nodes.push(...(await startNodes(tmp.path, count, { ...registry, env })));
    await waitForMesh(client, nodes);
  });
  after(async () => {
    await client.close();
    await stopAll(nodes);
    await stopRedis?.();
    await remove?.();
  });
  return { nodes, client, dir, redis };
}
