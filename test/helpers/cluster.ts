import { join } from "node:path";
import { CLI, type Proc, startProcess } from "./proc.ts";

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
