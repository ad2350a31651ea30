import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_FAILED, EXIT_OK } from "../command.ts";
import { formatBytes } from "../progress.ts";

export const statusCommand: Command = {
  summary: "show whether the cluster is ready, and its nodes",
  usage: ["usage: dfs status [--json] [options]", "", "options:", CLIENT_OPTIONS_HELP].join("\n"),
  async run(argv) {
    const { client, values } = clientArgs(argv);
    const [ready, nodes] = await Promise.all([client.ready(), client.nodes()]);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ready: ready.ready, readyz: ready.body, nodes }, null, 2)}\n`);
      return ready.ready ? EXIT_OK : EXIT_FAILED;
    }
    const list = Array.isArray(nodes?.nodes) ? (nodes.nodes as Record<string, unknown>[]) : [];
    const lines = [
      `ready: ${ready.ready ? "yes" : `no (${String(ready.body.detail ?? "")})`}`,
      `nodes: ${list.filter((n) => n.state === "live").length} live of ${list.length}`,
      ...list.map(
        (n) =>
          `  ${String(n.id).slice(0, 12)}  ${String(n.addr).padEnd(21)} ${String(n.zone).padEnd(10)} ${String(n.state).padEnd(8)} ${formatBytes(Number(n.freeBytes))} free of ${formatBytes(Number(n.capacityBytes))}`,
      ),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return ready.ready ? EXIT_OK : EXIT_FAILED;
  },
};
