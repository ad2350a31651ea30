import { loadNodeConfig, settingsFor } from "../../config/index.ts";
import { createLogger } from "../../logger.ts";
import { runNode } from "../../node/main.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { describeSettings, parseFlags } from "../flags.ts";

const settings = settingsFor("node");

export const nodeCommand: Command = {
  summary: "run a storage node",
  usage: [
    "usage: dfs node --listen HOST:PORT --data DIR [options]",
    "",
    "Runs a storage node. The cluster secret comes from DFS_CLUSTER_SECRET or --secret-file FILE.",
    "",
    "options:",
    "  --config FILE                   config.json (also DFS_CONFIG)",
    describeSettings(settings),
  ].join("\n"),
  async run(argv) {
    const { values } = parseFlags(argv, settings);
    const config = loadNodeConfig({
      file: values.config as string | undefined,
      env: process.env,
      flags: values,
    });
    await runNode(config, createLogger("node"));
    return EXIT_OK;
  },
};
