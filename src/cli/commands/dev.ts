import { parseArgs } from "node:util";
import { startDevCluster } from "../../dev/cluster.ts";
import { DfsError } from "../../errors.ts";
import { type Command, EXIT_OK } from "../command.ts";

function positiveInt(value: string | undefined, fallback: number, flag: string, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      `--${flag}: expected a whole number from 1 to ${max}, got "${value}"`,
    );
  }
  return n;
}

/** What `dfs dev` prints for S3 clients: a keyless gateway admits any, these are shown for copying. */
const DEV_ACCESS_KEY = "dfsdev";
const DEV_SECRET = "dfsdev-secret";

export const devCommand: Command = {
  summary: "run a whole local cluster (Redis + Sentinels, nodes, gateway)",
  usage: [
    "usage: dfs dev [--nodes N] [--port P] [--s3-port P] [--data DIR]",
    "",
    "Starts Redis (master, replica, 3 Sentinels) from the redis-server on PATH, N storage nodes and",
    "a gateway on 127.0.0.1:P (the S3 API on its own port), with every file under DIR (a development cluster key and secret are",
    "created there once). Ctrl-C stops everything.",
    "",
    "options:",
    "  --nodes N       storage nodes (default 3)",
    "  --port P        gateway port (default 8080)",
    "  --s3-port P     S3 API port (default 9000)",
    "  --data DIR      data folder (default ./.dfs)",
  ].join("\n"),
  async run(argv) {
    let values: { nodes?: string; port?: string; "s3-port"?: string; data?: string };
    try {
      values = parseArgs({
        args: argv,
        options: {
          nodes: { type: "string" },
          port: { type: "string" },
          "s3-port": { type: "string" },
          data: { type: "string" },
        },
        strict: true,
      }).values;
    } catch (err) {
      throw new DfsError("DFS_ERR_CONFIG", (err as Error).message);
    }
    const print = (line: string) => process.stdout.write(`${line}\n`);
    const cluster = await startDevCluster({
      nodes: positiveInt(values.nodes, 3, "nodes", 32),
      port: values.port === undefined ? 8080 : positiveInt(values.port, 8080, "port", 65535),
      s3Port: positiveInt(values["s3-port"], 9000, "s3-port", 65535),
      dataDir: values.data ?? ".dfs",
      print,
    });
    print("");
    print(`dfs-mesh is running: ${cluster.url}`);
    print(`  nodes:     ${cluster.nodes.map((n) => n.addr).join(", ")}`);
    print(`  sentinels: ${cluster.sentinels.join(",")} (master name mymaster)`);
    print("");
    print(`  curl -F file=@README.md ${cluster.url}/v1/files`);
    print(`  curl -o copy ${cluster.url}/v1/files/<hash>`);
    print(`  npx dfs put README.md --gateway ${cluster.url}`);
    print("");
    print(`S3 API: ${cluster.s3Url} (region us-east-1). This gateway has no keys, so it admits`);
    print("every S3 request; these credentials work (any others would too):");
    print(
      `  export AWS_ACCESS_KEY_ID=${DEV_ACCESS_KEY} AWS_SECRET_ACCESS_KEY=${DEV_SECRET} AWS_DEFAULT_REGION=us-east-1`,
    );
    print(`  aws --endpoint-url ${cluster.s3Url} s3 mb s3://demo`);
    print(`  aws --endpoint-url ${cluster.s3Url} s3 cp README.md s3://demo/`);
    print("");
    print("Press Ctrl-C to stop.");
    // The first signal starts a graceful stop; later ones (npx forwards Ctrl-C a second time) must
    // not kill us half-way and leave children behind.
    let stopping = false;
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        resolve();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    });
    print("stopping...");
    await cluster.stop();
    print("stopped.");
    return EXIT_OK;
  },
};
