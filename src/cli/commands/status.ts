import type { HealStats, NodeInfo } from "../../registry/index.ts";
import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_FAILED, EXIT_OK } from "../command.ts";
import { formatBytes } from "../progress.ts";
import { renderNodes, renderTable } from "./nodes.ts";

export const statusCommand: Command = {
  summary: "show whether the cluster is ready, its nodes and what their self-healing did",
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
      ...(list.length > 0 ? ["", renderHeal(list).trimEnd()] : []),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return ready.ready ? EXIT_OK : EXIT_FAILED;
  },
};

/** A count as the gateway sent it; "?" for anything that is not one (an odd or foreign gateway). */
function count(value: unknown): string {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? String(value) : "?";
}

function bytes(value: unknown): string {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? formatBytes(value) : "?";
}

/**
 * Each node's self-healing counters, as the node last published them; "-" for a node that publishes
 * none (an older version, or not healing yet).
 */
export function renderHeal(nodes: readonly NodeInfo[]): string {
  const rows = [
    ["ID", "UNDER-REPLICATED", "REPAIRED", "SCRUBBED", "QUARANTINED", "RESTORED", "COLLECTED"],
    ...nodes.map((n) => {
      const h = n.heal as Partial<Record<keyof HealStats, unknown>> | undefined;
      if (typeof h !== "object" || h === null) return [n.id, "-", "-", "-", "-", "-", "-"];
      return [
        n.id,
        count(h.underReplicated),
        `${count(h.repaired)} (${bytes(h.repairedBytes)})`,
        count(h.scrubbed),
        count(h.quarantined),
        count(h.restored),
        `${count(h.collected)} (${bytes(h.collectedBytes)})`,
      ];
    }),
  ];
  return `self-healing since each node started (under-replicated: as of its last repair round):\n${renderTable(rows)}`;
}
