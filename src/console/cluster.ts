import type { GatewayConfig } from "../config/index.ts";
import type { HealCounters } from "../formats/index.ts";
import type { GatewayContext } from "../gateway/index.ts";
import { type SentinelTopology, sentinelTopology } from "../registry/index.ts";

/** Sentinel answers are kept this long: every open cluster page polls, the Sentinels need not hear each. */
const SENTINEL_CACHE_MS = 1500;

const HEAL_FIELDS = [
  "underReplicated",
  "repaired",
  "scrubbed",
  "quarantined",
  "collected",
  "syncRounds",
  "syncDifferences",
  "syncRepaired",
] as const satisfies readonly (keyof HealCounters)[];

/** Totals of the gateway's request counter: all answers, client errors (4xx) and server errors (5xx). */
async function requestTotals(ctx: GatewayContext) {
  const totals = { requests: 0, clientErrors: 0, serverErrors: 0 };
  for (const v of (await ctx.metrics.requests.get()).values) {
    const status = Number(v.labels.status);
    totals.requests += v.value;
    if (status >= 500) totals.serverErrors += v.value;
    else if (status >= 400) totals.clientErrors += v.value;
  }
  return totals;
}

/**
 * What the console's cluster page shows, in one answer: nodes as the registry sees them, their
 * self-healing and sync counters (summed), this gateway's request totals (the page turns them into
 * rates between polls), and the registry's Redis as the Sentinels see it.
 */
export function clusterReport(ctx: GatewayContext, config: GatewayConfig) {
  let sentinel: { at: number; value: Promise<SentinelTopology | undefined> } | undefined;
  const topology = () => {
    const now = performance.now();
    if (sentinel === undefined || now - sentinel.at > SENTINEL_CACHE_MS) {
      sentinel = { at: now, value: sentinelTopology(config.registry).catch(() => undefined) };
    }
    return sentinel.value;
  };
  return async () => {
    const nodes = ctx.view.all();
    const heal = Object.fromEntries(HEAL_FIELDS.map((f) => [f, 0])) as Record<
      (typeof HEAL_FIELDS)[number],
      number
    >;
    for (const n of nodes) for (const f of HEAL_FIELDS) heal[f] += n.heal?.[f] ?? 0;
    const [requests, redis] = await Promise.all([requestTotals(ctx), topology()]);
    return {
      at: new Date().toISOString(),
      view: { stale: ctx.view.stale, ageMs: Math.round(ctx.view.ageMs) },
      nodes: nodes.map((n) => ({
        id: n.id,
        zone: n.zone,
        state: n.state,
        capacityBytes: n.capacityBytes,
        freeBytes: n.freeBytes,
        lastHeartbeatAgeMs: Math.round(n.lastHeartbeatAgeMs),
        version: n.version,
        ...(n.heal && { heal: Object.fromEntries(HEAL_FIELDS.map((f) => [f, n.heal?.[f] ?? 0])) }),
      })),
      heal,
      gateway: { ...requests, uptimeSec: Math.round(process.uptime()) },
      sentinel: redis ?? null,
    };
  };
}
