import { setFlagsFromString } from "node:v8";
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
      steadierGc();
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

/**
 * By default V8 starts a full mark-compact every few tens of MiB of Buffer (off-heap) memory a
 * process allocates, whatever its heap size: ~100 per GiB through a gateway (socket reads, cipher
 * output), a third of its CPU (--trace-gc). Counting that memory in the heap's global limit instead
 * cuts them several-fold in gateways and nodes. Alone it let a gateway's RSS pass 250 MiB during
 * large transfers; with the small young generation of SERVICE_NODE_FLAGS it stays under 180
 * (bench/README.md, "V8 and Buffer memory"). A runtime flag: V8 reads it at every limit update.
 */
function steadierGc(): void {
  setFlagsFromString("--external-memory-accounted-in-global-limit");
}
