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
      if (spec.section === "node") steadierGc();
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
 * process allocates, whatever its heap size. Counting that memory in the heap's global limit
 * instead lets a storage node run with about 4 times fewer of them: node RSS and CPU per GiB both
 * fall (bench/README.md, "V8 and Buffer memory"). Not for gateways: there it also cuts GC, but
 * lets RSS over the 200 MiB bound during large transfers.
 */
function steadierGc(): void {
  setFlagsFromString("--external-memory-accounted-in-global-limit");
}
