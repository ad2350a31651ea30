import type { GatewayConfig } from "../config/index.ts";
import { type NodeConfig, type Sources, settingsFor } from "../config/index.ts";
import { createLogger, type Logger } from "../logger.ts";
import { type Command, EXIT_OK } from "./command.ts";
import { describeSettings, parseFlags } from "./flags.ts";

/**
 * A long-running service command (`dfs node`, `dfs gateway`): flags and env from the settings
 * table, validated config, JSON logs, then run until a signal stops it.
 */
export function serviceCommand<C extends NodeConfig | GatewayConfig>(spec: {
  section: "node" | "gateway";
  summary: string;
  intro: string[];
  load: (sources: Sources) => C;
  run: (config: C, logger: Logger) => Promise<void>;
}): Command {
  const settings = settingsFor(spec.section);
  return {
    summary: spec.summary,
    usage: [
      ...spec.intro,
      "",
      "options:",
      "  --config FILE                   config.json (also DFS_CONFIG)",
      describeSettings(settings),
    ].join("\n"),
    async run(argv) {
      const { values } = parseFlags(argv, settings);
      const config = spec.load({
        file: values.config as string | undefined,
        env: process.env,
        flags: values,
      });
      await spec.run(config, createLogger(spec.section));
      return EXIT_OK;
    },
  };
}
