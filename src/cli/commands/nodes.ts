import { pino } from "pino";
import {
  AUTHORITY_SETTINGS,
  clientSettings,
  loadClientConfig,
  loadTrustConfig,
  type RegistryConfig,
  SETTINGS,
} from "../../config/index.ts";
import { loadRegistryConfig } from "../../config/load.ts";
import { trustAnchorOf } from "../../credentials/index.ts";
import { isDfsError } from "../../errors.ts";
import { type NodeInfo, startMembershipView } from "../../registry/index.ts";
import { GatewayClient } from "../client/gateway-client.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { describeSettings, parseFlags } from "../flags.ts";
import { formatBytes } from "../progress.ts";

const settings = [
  ...SETTINGS.filter((s) => s.path[0] === "redis"),
  ...AUTHORITY_SETTINGS,
  ...clientSettings(),
];

/** How long to wait for a first answer from Redis before giving up (DFS_ERR_REGISTRY, exit 1). */
const SYNC_TIMEOUT_MS = 5000;

export const nodesCommand: Command = {
  summary: "list the storage nodes in the registry",
  usage: [
    "usage: dfs nodes [--json] [options]",
    "",
    "Lists every registered storage node: id, address, zone, free/capacity, heartbeat age, state",
    '("expired": registered, but its heartbeat key is gone). Reads the registry when Redis settings',
    "are given, else asks the gateway (--gateway, DFS_GATEWAY). With the cluster authority's public",
    "key, records that are not signed by a node credential of their id are left out (and logged).",
    "",
    "options:",
    `${"  --json".padEnd(32)}print JSON instead of a table`,
    `${"  --config FILE".padEnd(32)}config.json [DFS_CONFIG]`,
    describeSettings(settings),
  ].join("\n"),
  async run(argv) {
    const { values } = parseFlags(argv, settings, { json: { type: "boolean" } });
    const sources = { file: values.config as string | undefined, env: process.env, flags: values };
    let config: RegistryConfig | undefined;
    try {
      config = loadRegistryConfig(sources);
    } catch (err) {
      // No registry settings: ask a gateway instead (--gateway / DFS_GATEWAY, default 127.0.0.1:8080).
      if (!isDfsError(err, "DFS_ERR_CONFIG") || !err.message.startsWith("redis: a registry is required"))
        throw err;
    }
    let nodes: NodeInfo[];
    if (config) {
      // Logs go to stderr: stdout is the table (or JSON) a script may parse.
      const logger = pino({ level: "warn", base: { service: "cli" } }, pino.destination(2));
      const trust = loadTrustConfig(sources);
      const anchor = trust && trustAnchorOf(trust);
      const view = await startMembershipView(config, {
        logger,
        startTimeoutMs: SYNC_TIMEOUT_MS,
        ...(anchor && { anchor }),
      });
      nodes = view.all();
      await view.close();
    } else {
      const list = await new GatewayClient(loadClientConfig(sources)).nodes();
      nodes = (list?.nodes ?? []) as NodeInfo[];
    }
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
  return renderTable(rows);
}

/** Rows of cells (the first row the header) as left-aligned columns, one line each. */
export function renderTable(rows: readonly (readonly string[])[]): string {
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
