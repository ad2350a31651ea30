import { setFlagsFromString } from "node:v8";
import type { GatewayConfig } from "../config/index.ts";
import { type NodeConfig, type Sources, settingsFor } from "../config/index.ts";
import { createLogger, type Logger } from "../logger.ts";
import { keepFreedMemory } from "../memory.ts";
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
      steadierGc(spec.section);
      keepFreedMemory();
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
 * (bench/results-2026-11.md, "V8 and Buffer memory").
 *
 * A gateway's heap is small (~20 MB live), so the limit V8 grows it to after a collection is close:
 * ~25 MB of Buffers dying between two scavenges crossed it, ~44 times per GiB uploaded, each
 * mark-compact finding almost nothing to free. The gateway frees what it can at once (freeNow:
 * cipher output, raw request bodies, sent download pieces); a multipart body's pieces come from
 * busboy and are left to the GC, and those alone still cost 46 mark-compacts and 2.7 CPU s per GiB
 * of POST on V8's workers. A heap allowed to grow to 3x its live size (V8 otherwise picks a factor
 * between 1.1 and 4 from its own GC timings) rides them out: a POST at 3.9-4.1 CPU s/GiB instead of
 * 7.6 (`npm run bench -- --cases gw-post-512`, runs in bench/results-2026-11.md). Nodes, whose Buffers come from pools, do not need it. Runtime flags: V8 reads them at
 * every limit update.
 */
function steadierGc(section: "node" | "gateway"): void {
  setFlagsFromString("--external-memory-accounted-in-global-limit");
  if (section === "gateway") setFlagsFromString("--heap-growing-percent=200");
}
