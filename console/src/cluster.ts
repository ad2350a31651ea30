import { api } from "./api.ts";
import { fill, h } from "./dom.ts";
import { ago, bytes } from "./format.ts";

/** How often the page asks again. */
const POLL_MS = 2000;

interface Report {
  at: string;
  view: { stale: boolean; ageMs: number };
  nodes: {
    id: string;
    zone: string;
    state: string;
    capacityBytes: number;
    freeBytes: number;
    lastHeartbeatAgeMs: number;
    version: string;
  }[];
  heal: Record<string, number>;
  gateway: { requests: number; clientErrors: number; serverErrors: number; uptimeSec: number };
  sentinel: {
    masterName: string;
    master?: { addr: string; flags: string[]; epoch: number };
    replicas: { addr: string; flags: string[] }[];
    sentinels: { addr: string; answered: boolean }[];
  } | null;
}

const HEAL_LABELS: [string, string][] = [
  ["underReplicated", "Under-replicated"],
  ["repaired", "Repaired"],
  ["scrubbed", "Scrubbed"],
  ["quarantined", "Quarantined"],
  ["collected", "Collected"],
  ["syncRounds", "Sync rounds"],
  ["syncDifferences", "Sync differences"],
  ["syncRepaired", "Sync repaired"],
];

const stateText = (s: string) => (s === "live" ? "live" : "dead");

type NodeRow = Report["nodes"][number] & { gone?: boolean };

/**
 * The report's nodes, and those this page saw before that have left the registry since (the live
 * nodes remove a dead peer's record soon after its heartbeat expired): shown dead, not dropped.
 */
function withGone(nodes: Report["nodes"], seen: Map<string, NodeRow>): NodeRow[] {
  const now = new Set(nodes.map((n) => n.id));
  for (const n of nodes) seen.set(n.id, n);
  const gone = [...seen.values()]
    .filter((n) => !now.has(n.id))
    .map((n) => ({ ...n, state: "expired", gone: true }));
  return [...nodes, ...gone].sort((a, b) => (a.id < b.id ? -1 : 1));
}

function table(caption: string, head: string[], rows: (string | Node)[][]): HTMLElement {
  return h(
    "div",
    { class: "scroll", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
    ),
  );
}

/** Nodes, self-healing, request rates and the registry's Redis, asked again every 2 s. */
export function renderCluster(main: HTMLElement): () => void {
  const body = h("div", { id: "cluster" }, "Loading…");
  const updated = h("p", { class: "muted", id: "cluster-updated" });
  fill(main, h("h1", {}, "Cluster"), updated, body);
  let previous: { at: number; g: Report["gateway"] } | undefined;
  const seen = new Map<string, NodeRow>();
  let stopped = false;

  async function poll(): Promise<void> {
    let r: Report;
    try {
      r = await api<Report>("GET", "/ui/api/cluster");
    } catch (err) {
      updated.textContent = `Could not refresh: ${(err as Error).message}`;
      return;
    }
    const now = performance.now();
    const per = (pick: (g: Report["gateway"]) => number) =>
      previous === undefined || now <= previous.at
        ? "…"
        : `${((pick(r.gateway) - pick(previous.g)) / ((now - previous.at) / 1000)).toFixed(1)}/s`;
    const rates = [per((g) => g.requests), per((g) => g.clientErrors), per((g) => g.serverErrors)];
    previous = { at: now, g: r.gateway };
    const live = r.nodes.filter((n) => n.state === "live").length;
    updated.textContent = `${live} of ${r.nodes.length} nodes live. Updated ${new Date(r.at).toLocaleTimeString()}${r.view.stale ? " (the registry view is stale)" : ""}.`;
    const s = r.sentinel;
    fill(
      body,
      table(
        "Nodes",
        ["Node", "Zone", "State", "Capacity", "Free", "Last heartbeat", "Version"],
        withGone(r.nodes, seen).map((n) => [
          n.id,
          n.zone || "-",
          h("span", { class: `badge ${stateText(n.state)}`, "data-node": n.id }, stateText(n.state)),
          bytes(n.capacityBytes),
          bytes(n.freeBytes),
          n.gone ? "left the registry" : ago(n.lastHeartbeatAgeMs),
          n.version,
        ]),
      ),
      h("h2", {}, "Self-healing (all nodes, since they started)"),
      h(
        "dl",
        { class: "counters" },
        ...HEAL_LABELS.flatMap(([k, label]) => [h("dt", {}, label), h("dd", {}, String(r.heal[k] ?? 0))]),
      ),
      h("h2", {}, "This gateway"),
      h(
        "dl",
        { class: "counters" },
        h("dt", {}, "Requests"),
        h("dd", { id: "rate-requests" }, rates[0]!),
        h("dt", {}, "Client errors (4xx)"),
        h("dd", {}, rates[1]!),
        h("dt", {}, "Server errors (5xx)"),
        h("dd", {}, rates[2]!),
        h("dt", {}, "Requests since start"),
        h("dd", {}, String(r.gateway.requests)),
      ),
      h("h2", {}, "Registry (Redis under Sentinel)"),
      s === null
        ? h("p", {}, "The registry is not behind Sentinels.")
        : table(
            `Master set ${s.masterName}`,
            ["Role", "Address", "Flags"],
            [
              [
                "master",
                s.master?.addr ?? "unknown",
                s.master ? `${s.master.flags.join(", ")} (epoch ${s.master.epoch})` : "no Sentinel answered",
              ],
              ...s.replicas.map((x) => ["replica", x.addr, x.flags.join(", ")]),
              ...s.sentinels.map((x) => ["sentinel", x.addr, x.answered ? "answered" : "no answer"]),
            ],
          ),
    );
  }

  const loop = async () => {
    while (!stopped) {
      await poll();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}
