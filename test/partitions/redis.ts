/**
 * Redis under Sentinel across hosts: a master and replicas on their own hosts, Sentinels on theirs,
 * each `redis-server` run with `ip netns exec` (its pid is the server's) from a config under `dir`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { dataConf } from "../../src/dev/redis-conf.ts";
import { redisCommandAt } from "../../src/dev/redis-process.ts";
import type { Host } from "./hosts.ts";

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const MASTER_NAME = "mymaster";
const REDIS_SERVER = process.env.DFS_REDIS_SERVER ?? "/usr/bin/redis-server";

/** One redis-server (data or Sentinel) on a host; start() again after it stopped. */
export class HostRedis {
  readonly host: Host;
  readonly kind: "data" | "sentinel";
  readonly port: number;
  readonly conf: string;
  child: ChildProcess | undefined;

  constructor(host: Host, kind: "data" | "sentinel", conf: string) {
    this.host = host;
    this.kind = kind;
    this.port = kind === "data" ? REDIS_PORT : SENTINEL_PORT;
    this.conf = conf;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const args = ["netns", "exec", this.host.ns, REDIS_SERVER, this.conf];
    if (this.kind === "sentinel") args.push("--sentinel");
    const child = spawn("ip", args, { stdio: "ignore" });
    this.child = child;
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
    });
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await Promise.race([gone, delay(3000)]);
  }
}

export interface RedisSet {
  readonly data: HostRedis[];
  readonly sentinels: HostRedis[];
  /** "ip:port,..." of the Sentinels, for --sentinels. */
  readonly sentinelAddrs: string;
  /** The master's ip as the majority of answering Sentinels name it. */
  master(): Promise<string | undefined>;
  stopAll(): Promise<void>;
}

function sentinelConf(dir: string, h: Host, master: Host, downAfterMs: number): string {
  return [
    `bind ${h.ip}`,
    `port ${SENTINEL_PORT}`,
    "protected-mode no",
    "daemonize no",
    `logfile ${join(dir, `sentinel-${h.name}.log`)}`,
    `dir ${join(dir, `sentinel-${h.name}`)}`,
    "sentinel resolve-hostnames no",
    "sentinel announce-hostnames no",
    `sentinel monitor ${MASTER_NAME} ${master.ip} ${REDIS_PORT} 2`,
    `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
    `sentinel failover-timeout ${MASTER_NAME} 3000`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`,
    "",
  ].join("\n");
}

/** Starts the master (first data host), its replicas and the Sentinels; waits until they agree. */
export async function startRedis(
  dir: string,
  dataHosts: readonly Host[],
  sentinelHosts: readonly Host[],
  downAfterMs = 1000,
): Promise<RedisSet> {
  const master = dataHosts[0]!;
  const data: HostRedis[] = [];
  const sentinels: HostRedis[] = [];
  for (const h of dataHosts) {
    // A folder per host: every data node listens on the same port, each on its own address.
    const own = join(dir, h.name);
    await mkdir(join(own, `redis-${REDIS_PORT}`), { recursive: true });
    const conf = join(own, `redis-${REDIS_PORT}.conf`);
    const replicaOf = h === master ? undefined : REDIS_PORT;
    await writeFile(conf, dataConf(own, REDIS_PORT, replicaOf, h.ip, master.ip));
    data.push(new HostRedis(h, "data", conf));
  }
  for (const h of sentinelHosts) {
    await mkdir(join(dir, `sentinel-${h.name}`), { recursive: true });
    const conf = join(dir, `sentinel-${h.name}.conf`);
    await writeFile(conf, sentinelConf(dir, h, master, downAfterMs));
    sentinels.push(new HostRedis(h, "sentinel", conf));
  }
  const set: RedisSet = {
    data,
    sentinels,
    sentinelAddrs: sentinels.map((s) => `${s.host.ip}:${SENTINEL_PORT}`).join(","),
    async master() {
      const votes = new Map<string, number>();
      await Promise.all(
        sentinels.map(async (s) => {
          const reply = await redisCommandAt(
            s.host.ip,
            SENTINEL_PORT,
            "SENTINEL",
            "get-master-addr-by-name",
            MASTER_NAME,
          ).catch(() => undefined);
          if (Array.isArray(reply)) votes.set(String(reply[0]), (votes.get(String(reply[0])) ?? 0) + 1);
        }),
      );
      const best = [...votes.entries()].sort((a, b) => b[1] - a[1])[0];
      return best && best[1] >= 2 ? best[0] : undefined;
    },
    async stopAll() {
      await Promise.all(sentinels.map((s) => s.stop()));
      await Promise.all(data.map((d) => d.stop()));
    },
  };
  for (const d of data) d.start();
  await waitAnswer(data);
  for (const s of sentinels) s.start();
  await waitAnswer(sentinels);
  await waitReplicas(set, 30_000);
  return set;
}

async function waitAnswer(procs: readonly HostRedis[]): Promise<void> {
  for (const p of procs) {
    for (let i = 0; ; i++) {
      if ((await redisCommandAt(p.host.ip, p.port, "PING").catch(() => "")) === "PONG") break;
      if (i > 250) throw new Error(`redis on ${p.host.name} does not answer`);
      await delay(40);
    }
  }
}

/** Waits until every Sentinel names the first master and knows both replicas and the other Sentinels. */
async function waitReplicas(set: RedisSet, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const want = set.data[0]!.host.ip;
  for (;;) {
    let ok = (await set.master()) === want;
    for (const s of set.sentinels) {
      if (!ok) break;
      const reply = await redisCommandAt(s.host.ip, SENTINEL_PORT, "SENTINEL", "master", MASTER_NAME).catch(
        () => [],
      );
      const f = new Map<string, string>();
      if (Array.isArray(reply))
        for (let i = 0; i + 1 < reply.length; i += 2) f.set(String(reply[i]), String(reply[i + 1]));
      ok =
        Number(f.get("num-slaves")) >= set.data.length - 1 &&
        Number(f.get("num-other-sentinels")) >= set.sentinels.length - 1;
    }
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Sentinels not agreed after ${timeoutMs} ms`);
    await delay(200);
  }
}
