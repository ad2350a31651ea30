import type { NodeInfo } from "../../registry/index.ts";
import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_FAILED, EXIT_OK } from "../command.ts";
import { renderNodes } from "./nodes.ts";

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
    const list = (Array.isArray(nodes?.nodes) ? nodes.nodes : []) as NodeInfo[];
    const lines = [
      `ready: ${ready.ready ? "yes" : `no (${String(ready.body.detail ?? "")})`}`,
      `nodes: ${list.filter((n) => n.state === "live").length} live of ${list.length}`,
      "",
      renderNodes(list).trimEnd(),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return ready.ready ? EXIT_OK : EXIT_FAILED;
  },
};
