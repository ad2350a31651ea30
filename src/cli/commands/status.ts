import type { HealCounters, StoreCounters } from "../../formats/index.ts";
import type { NodeInfo } from "../../registry/index.ts";
import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_FAILED, EXIT_OK } from "../command.ts";
import { formatBytes } from "../progress.ts";
import { renderNodes, renderTable } from "./nodes.ts";

export const statusCommand: Command = {
  summary: "show whether the cluster is ready, its nodes, what their self-healing did and their stores",
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
      ...(list.length > 0
        ? ["", renderHeal(list).trimEnd(), "", renderSync(list).trimEnd(), "", renderStore(list).trimEnd()]
        : []),
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
    [
      "ID",
      "UNDER-REPLICATED",
      "REPAIRED",
      "SCRUBBED",
      "QUARANTINED",
      "RESTORED",
      "COLLECTED",
      "TOMBSTONES EXPIRED",
    ],
    ...nodes.map((n) => {
      const h = n.heal as Partial<Record<keyof HealCounters, unknown>> | undefined;
      if (typeof h !== "object" || h === null) return [n.id, "-", "-", "-", "-", "-", "-", "-"];
      return [
        n.id,
        count(h.underReplicated),
        `${count(h.repaired)} (${bytes(h.repairedBytes)})`,
        count(h.scrubbed),
        count(h.quarantined),
        count(h.restored),
        `${count(h.collected)} (${bytes(h.collectedBytes)})`,
        count(h.expiredTombstones),
      ];
    }),
  ];
  return `self-healing since each node started (under-replicated: as of its last repair round):\n${renderTable(rows)}`;
}

/**
 * Each node's anti-entropy: its rounds comparing digests with its peers, what they found differing
 * and repaired, and what a round cost on the link on average (a round in sync costs one request
 * per peer and object kind).
 */
export function renderSync(nodes: readonly NodeInfo[]): string {
  const rows = [
    ["ID", "SYNC ROUNDS", "DIFFERENCES FOUND", "REPAIRED BY SYNC", "REQUESTS PER ROUND", "BYTES PER ROUND"],
    ...nodes.map((n) => {
      const h = n.heal as Partial<Record<keyof HealCounters, unknown>> | undefined;
      if (typeof h !== "object" || h === null) return [n.id, "-", "-", "-", "-", "-"];
      const perRound = ratio(h.syncBytes, h.syncRounds);
      return [
        n.id,
        count(h.syncRounds),
        count(h.syncDifferences),
        count(h.syncRepaired),
        ratio(h.syncRequests, h.syncRounds),
        perRound === "-" || perRound === "?" ? perRound : formatBytes(Number(perRound)),
      ];
    }),
  ];
  return `anti-entropy since each node started (comparisons of digests with the peers):\n${renderTable(rows)}`;
}

/**
 * Each node's store as it last published it: how often its cache of small objects answered, and
 * its pack files (live bytes of all, and records per fdatasync: what the group commit buys).
 */
export function renderStore(nodes: readonly NodeInfo[]): string {
  const rows = [
    ["ID", "CACHE HITS", "PACKS", "PACK BYTES (LIVE)", "RECORDS PER BATCH", "COMPACTIONS"],
    ...nodes.map((n) => {
      const s = n.store as Partial<Record<keyof StoreCounters, unknown>> | undefined;
      if (typeof s === "object" && s !== null) {
        const { cacheHits: hits, cacheMisses: misses, packRecords: records, packBatches: batches } = s;
        return [
          n.id,
          `${count(hits)} of ${sum(hits, misses)}`,
          count(s.packFiles),
          `${bytes(s.packBytes)} (${bytes(s.packLiveBytes)})`,
          ratio(records, batches),
          count(s.packCompactions),
        ];
      }
      return [n.id, "-", "-", "-", "-", "-"];
    }),
  ];
  return `store of small objects (cache hits since each node started; packs as they are now):\n${renderTable(rows)}`;
}

function sum(a: unknown, b: unknown): string {
  return count(a) === "?" || count(b) === "?" ? "?" : String((a as number) + (b as number));
}

function ratio(a: unknown, b: unknown): string {
  if (count(a) === "?" || count(b) === "?") return "?";
  return (b as number) === 0 ? "-" : ((a as number) / (b as number)).toFixed(1);
}
