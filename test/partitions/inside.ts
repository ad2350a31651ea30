/**
 * The run itself, on the clients' host (started by run.ts with `ip netns exec`): starts the cluster
 * on the other hosts, runs the workload through the schedule's faults, reads everything back after
 * healing, checks the history and writes the result (JSON) and the report (markdown).
 * Usage: node test/partitions/inside.ts TAG DIR SEED MINUTES OUT_JSON
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { request } from "undici";
import { makeBucket } from "./api.ts";
import { check, explain } from "./checker.ts";
import {
  API_KEY,
  type Cluster,
  HOST_NAMES,
  NODE_ZONES,
  REPAIR_GRACE_MS,
  REPAIR_INTERVAL_MS,
  REPAIR_RATE_BYTES,
  REPLICAS,
  startCluster,
} from "./cluster.ts";
import { type Heal, inject } from "./faults.ts";
import { finalReads, surelyPresent, untilCopies } from "./final.ts";
import { History } from "./history.ts";
import { hostsLayout } from "./hosts.ts";
import { faultRows, oneNodeTransfers, reportTable } from "./report.ts";
import { randomSchedule, type Step, scheduleMs, shortSchedule } from "./schedule.ts";
import { startWorkload } from "./workload.ts";

/** Each fault lasts longer than every timeout it meets: Sentinel's 1 s, the 5 s heartbeat TTL and repair grace. */
export const FAULT_MS = 7000;
export const GAP_MS = 9000;
const CLIENTS = 6;

export interface RunResult {
  seed: number;
  schedule: Step[];
  anomalies: string[];
  table: string;
  ops: number;
  /** Ms after the last heal until every surely-present file had R copies; undefined: not in time. */
  finalCopiesMs: number | undefined;
  copiesDeadlineMs: number;
  lostOrCorrupt: number;
  /** Ms from cutting or stopping the Redis master until the Sentinels named another. */
  failovers: { name: string; ms: number | undefined }[];
  /** Uploads and downloads while one node was partitioned, stopped or killed. */
  oneNode: { ok: number; total: number };
}

async function waitNodes(url: string, count: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const res = await request(`${url}/v1/nodes`, { headers: { authorization: `Bearer ${API_KEY}` } }).catch(
      () => undefined,
    );
    const text = res ? await res.body.text() : "";
    if (res?.statusCode === 200 && (JSON.parse(text) as { nodes?: unknown[] }).nodes?.length === count)
      return;
    await delay(250);
  }
  throw new Error(`${url} never saw ${count} nodes`);
}

/** Ms until the Sentinels name a master other than `before` (polled every 100 ms), or undefined. */
async function newMasterAfter(cluster: Cluster, before: string | undefined, withinMs: number) {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    const now = await cluster.redis.master();
    if (now !== undefined && now !== before) return performance.now() - started;
    await delay(100);
  }
  return undefined;
}

/** A process of the cluster that exited on its own (not by a fault) is an anomaly. */
async function crashed(cluster: Cluster): Promise<string[]> {
  const out: string[] = [];
  for (const s of [...cluster.nodes, ...cluster.gateways]) {
    const gone = await Promise.race([s.proc.exited, delay(10).then(() => undefined)]);
    if (gone)
      out.push(
        `ANOMALY crash: ${s.name} exited (${gone.code ?? gone.signal}): ${s.proc.stderr().slice(-2000)}`,
      );
  }
  return out;
}

async function runSchedule(cluster: Cluster, history: History, steps: readonly Step[]): Promise<void> {
  const origin = history.now();
  for (const [i, step] of steps.entries()) {
    const wait = origin + step.atMs - history.now();
    if (wait > 0) await delay(wait);
    const name = `${step.fault.kind} ${step.fault.target}`;
    console.log(`${(history.now() / 1000).toFixed(1)} s: inject ${name}`);
    const masterBefore = await cluster.redis.master();
    const startMs = history.now();
    const heal: Heal = await inject(cluster, step.fault);
    const cutMaster = step.fault.kind === "split-brain" || step.fault.kind === "stop-master";
    const failoverMs = cutMaster ? await newMasterAfter(cluster, masterBefore, step.durationMs) : undefined;
    await delay(step.durationMs - (history.now() - startMs));
    await heal();
    const healMs = history.now();
    console.log(`${(healMs / 1000).toFixed(1)} s: healed ${name}`);
    const window = { name, startMs, healMs, copiesMs: undefined as number | undefined, failoverMs };
    history.faults.push(window);
    // Copies of what was acknowledged meanwhile, watched until the next fault starts (it may
    // stop a node holding some), GAP_MS after the last. A file a client deletes leaves the watch.
    const next = steps[i + 1];
    const watchMs = next ? Math.max(0, origin + next.atMs - healMs) : GAP_MS;
    const written = history.ops
      .filter(
        (o) => o.kind === "upload" && o.outcome === "ok" && o.invokeMs >= startMs && o.invokeMs < healMs,
      )
      .slice(0, 12)
      .map((o) => o.target);
    const deleted = (hash: string) =>
      history.ops.some((o) => o.kind === "delete" && o.target === hash && o.invokeMs >= startMs);
    void untilCopies(cluster.urls[1]!, written, REPLICAS, watchMs, deleted).then((ms) => {
      window.copiesMs = ms;
    });
  }
}

async function main(): Promise<void> {
  const [tag, dir, seedText, minutesText, out] = process.argv.slice(2);
  if (!tag || !dir || !seedText || !minutesText || !out)
    throw new Error("usage: inside.ts TAG DIR SEED MINUTES OUT");
  const seed = Number(seedText);
  const minutes = Number(minutesText);
  const hosts = hostsLayout(tag, HOST_NAMES);
  const options = {
    faultMs: FAULT_MS,
    gapMs: GAP_MS,
    nodes: Object.keys(NODE_ZONES),
    zones: [...new Set(Object.values(NODE_ZONES))],
  };
  const steps = minutes > 0 ? randomSchedule(seed, minutes, options) : shortSchedule(seed, options);
  console.log(`seed ${seed}: ${steps.length} faults over ${(scheduleMs(steps, GAP_MS) / 1000).toFixed(0)} s`);
  const cluster = await startCluster(hosts, dir);
  try {
    await Promise.all(cluster.urls.map((u) => waitNodes(u, Object.keys(NODE_ZONES).length)));
    await makeBucket(cluster.urls[0]!);
    const history = new History();
    const workload = startWorkload(history, { clients: CLIENTS, urls: cluster.urls, seed });
    await delay(3000);
    await runSchedule(cluster, history, steps);
    await delay(GAP_MS);
    await workload.stop();
    console.log(
      `${(history.now() / 1000).toFixed(1)} s: workload stopped after ${history.ops.length} operations`,
    );
    await finalReads(history, cluster.urls);
    const present = surelyPresent(history.ops);
    const bytes = present.length * 160 * 1024;
    const copiesDeadlineMs =
      REPAIR_GRACE_MS + 2 * REPAIR_INTERVAL_MS + (REPLICAS * bytes * 1000) / REPAIR_RATE_BYTES;
    const finalCopiesMs = await untilCopies(cluster.urls[0]!, present, REPLICAS, copiesDeadlineMs);
    const anomalies = check(history.ops);
    const explained = anomalies.slice(0, 20).map((a) => explain(a, history.ops));
    explained.push(...(await crashed(cluster)));
    if (finalCopiesMs === undefined)
      explained.push(`ANOMALY copies: not every file had ${REPLICAS} copies within ${copiesDeadlineMs} ms`);
    const table = reportTable(faultRows(history.ops, history.faults, GAP_MS));
    const lostOrCorrupt = anomalies.filter(
      (a) => a.kind === "lost-write" || a.kind === "unwritten-bytes",
    ).length;
    const result: RunResult = {
      seed,
      schedule: steps,
      anomalies: explained,
      table,
      ops: history.ops.length,
      finalCopiesMs,
      copiesDeadlineMs,
      lostOrCorrupt,
      oneNode: oneNodeTransfers(history.ops, history.faults),
      failovers: history.faults
        .filter((f) => f.name.startsWith("split-brain") || f.name.startsWith("stop-master"))
        .map((f) => ({ name: f.name, ms: f.failoverMs })),
    };
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(result, null, 2));
    await writeFile(`${dir}/history.json`, JSON.stringify(history.ops));
  } finally {
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(3);
  },
);
