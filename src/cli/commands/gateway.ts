import { loadGatewayConfig, settingsFor } from "../../config/index.ts";
import { runGateway } from "../../gateway/index.ts";
import { createLogger } from "../../logger.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { describeSettings, parseFlags } from "../flags.ts";

const settings = settingsFor("gateway");

export const gatewayCommand: Command = {
  summary: "run the HTTP gateway",
  usage: [
    "usage: dfs gateway [--listen HOST:PORT] (--sentinels HOST:PORT,... | --redis URL) [options]",
    "",
    "Runs the HTTP API (see openapi.yaml). The cluster secret comes from DFS_CLUSTER_SECRET or",
    "--secret-file FILE, the cluster key from DFS_CLUSTER_KEY or --key-file FILE.",
    "",
    "options:",
    "  --config FILE                   config.json (also DFS_CONFIG)",
    describeSettings(settings),
  ].join("\n"),
  async run(argv) {
    const { values } = parseFlags(argv, settings);
    const config = loadGatewayConfig({
      file: values.config as string | undefined,
      env: process.env,
      flags: values,
    });
    await runGateway(config, createLogger("gateway"));
    return EXIT_OK;
  },
};
