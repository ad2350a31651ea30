import { join } from "node:path";
import { after, before } from "node:test";
import { NodeClient } from "../../src/transport/index.ts";
import { CLI, type Proc, startProcess } from "./proc.ts";
import { makeTempDir } from "./tmp.ts";

export const TEST_SECRET = "test-cluster-secret-0123456789";

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
    { env: { DFS_CLUSTER_SECRET: TEST_SECRET, DFS_RESERVE: "0", ...options.env } },
  );
  const line = await proc.waitForLog((l) => l.msg === "node listening");
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
  return Promise.all(
    Array.from({ length: count }, (_, i) => startNode({ ...options, dataDir: join(root, `node-${i}`) })),
  );
}

export async function stopAll(nodes: readonly NodeProc[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
}

/**
 * `count` real nodes in a temp dir and a client, for the suite this is called in: started before
 * its tests, stopped (by pid) and the dir removed after. `nodes` and `dir` are filled in before().
 */
export function nodesForSuite(count: number): {
  nodes: NodeProc[];
  client: NodeClient;
  dir: { path: string };
} {
  const nodes: NodeProc[] = [];
  const dir = { path: "" };
  const client = new NodeClient({ secret: Buffer.from(TEST_SECRET) });
  let remove: (() => Promise<void>) | undefined;
  before(async () => {
    const tmp = await makeTempDir();
    remove = () => tmp.remove();
    dir.path = tmp.path;
    nodes.push(...(await startNodes(tmp.path, count)));
  });
  after(async () => {
    await client.close();
    await stopAll(nodes);
    await remove?.();
  });
  return { nodes, client, dir };
}
