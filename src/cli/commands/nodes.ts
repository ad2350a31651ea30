import { pino } from "pino";
import { SETTINGS } from "../../config/index.ts";
import { loadRegistryConfig } from "../../config/load.ts";
import { type NodeInfo, startMembershipView } from "../../registry/index.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { describeSettings, parseFlags } from "../flags.ts";

const settings = SETTINGS.filter((s) => s.path[0] === "redis");

/** How long to wait for a first answer from Redis before giving up (DFS_ERR_REGISTRY, exit 1). */
const SYNC_TIMEOUT_MS = 5000;

export const nodesCommand: Command = {
  summary: "list the storage nodes in the registry",
  usage: [
    "usage: dfs nodes [--json] [options]",
    "",
    "Lists every registered storage node: id, address, zone, free/capacity, heartbeat age, state",
    '("expired": registered, but its heartbeat key is gone).',
    "",
    "options:",
    `${"  --json".padEnd(32)}print JSON instead of a table`,
    `${"  --config FILE".padEnd(32)}config.json [DFS_CONFIG]`,
    describeSettings(settings),
  ].join("\n"),
  async run(argv) {
    const { values } = parseFlags(argv, settings, { json: { type: "boolean" } });
    const config = loadRegistryConfig({
      file: values.config as string | undefined,
      env: process.env,
      flags: values,
    });
    // Logs go to stderr: stdout is the table (or JSON) a script may parse.
    const logger = pino({ level: "warn", base: { service: "cli" } }, pino.destination(2));
    const view = await startMembershipView(config, { logger, startTimeoutMs: SYNC_TIMEOUT_MS });
    const nodes = view.all();
    await view.close();
    process.stdout.write(values.json === true ? `${JSON.stringify(nodes, null, 2)}\n` : renderNodes(nodes));
    return EXIT_OK;
  },
};

/** The table `dfs nodes` prints, one row per node. */
export function renderNodes(nodes: readonly NodeInfo[]): string {
  if (nodes.length === 0) return "no nodes registered\n";
  const rows = [
    ["ID", "ADDRESS", "ZONE", "FREE/CAPACITY", "HEARTBEAT", "STATE"],
    ...nodes.map((n) => [
      n.id,
      n.addr,
      n.zone,
      `${formatBytes(n.freeBytes)} / ${formatBytes(n.capacityBytes)}`,
      `${(n.lastHeartbeatAgeMs / 1000).toFixed(1)}s ago`,
      n.state,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
