/**
 * A real Redis Sentinel topology for tests: 1 master, N replicas (default 1) and 3 Sentinels, each a
 * `redis-server` child process on a free loopback port, all under one temp dir. Sentinels are seeded
 * (ids, known sentinels, known replicas) so the topology is healthy in about 1.5 s instead of 3 s
 * (see /work/shared/notes/redis-sentinel.md). Processes are children, never daemons: we know their
 * pids, and `stopAll()` (call it in an after hook) plus an exit hook stop them by pid.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { type RegistryConfig, RegistrySchema } from "../config/schema.ts";

/** A folder for the processes' configs and logs: the given one (kept), or a fresh temp dir (removed at stop). */
async function topologyDir(dir: string | undefined): Promise<{ path: string; remove: () => Promise<void> }> {
  if (dir !== undefined) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return { path: dir, remove: async () => {} };
  }
  const path = await mkdtemp(join(tmpdir(), "dfs-redis-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

const HOST = "127.0.0.1";
const REDIS_SERVER =
  process.env.DFS_REDIS_SERVER ??
  (existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server");

export interface Address {
  host: string;
  port: number;
}

export interface Member extends Address {
  pid: number;
}

export interface TopologyOptions {
  /** Where configs and logs go (emptied first, kept at stop); default: a temp dir, removed at stop. */
  dir?: string;
  masterName?: string;
  replicas?: number;
  sentinels?: number;
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

export interface Topology {
  readonly dir: string;
  readonly masterName: string;
  readonly sentinels: Address[];
  /** Ports of the data nodes (master and replicas), in start order. */
  readonly dataPorts: number[];
  /** The master as the Sentinels report it (the majority of those answering). */
  master(): Promise<Member>;
  /** Signals the current master's process; SIGKILL also waits for it to exit. */
  killMaster(signal?: NodeJS.Signals): Promise<Member>;
  /** Sends a signal to the process on this port (SIGSTOP / SIGCONT). */
  signal(port: number, signal: NodeJS.Signals): void;
  /** Stops a process (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(target: number | "master"): Promise<Address>;
  /** Starts the process of this port again from its config file (Sentinel may have rewritten it). */
  restart(port: number): Promise<void>;
  /** Pid of the running process on this port, undefined when it is stopped. */
  pid(port: number): number | undefined;
  /**
   * Waits until every running Sentinel agrees on a master that is up and not failing over, and every
   * running replica replicates it with its link up.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Registry settings for this topology, with defaults from the schema; overrides win. */
  redisConfig(overrides?: Partial<RegistryConfig>): RegistryConfig;
  /**
   * Records every `+switch-master` any Sentinel publishes (performance.now() and the new port), from
   * now until close(). Resolves once subscribed on every running Sentinel.
   */
  watchSwitches(): Promise<{ readonly switches: { at: number; port: number }[]; close(): void }>;
  /** Runs one command against the process on this port (by address: tests only). */
  command(port: number, ...args: (string | number)[]): Promise<unknown>;
  /** Stops every process by pid (Sentinels first, so they do not fail over) and removes the dir. */
  stopAll(): Promise<void>;
}

interface Proc {
  port: number;
  kind: "data" | "sentinel";
  conf: string;
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Free loopback ports, all held open at once so they are distinct, then released. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, HOST, resolve);
      });
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * One command on a fresh connection: a dead or frozen process fails fast (1 s). A connection lost
 * mid-command is tried again twice: Sentinel CLIENT KILLs every client when it converts a master.
 */
export async function redisCommand(port: number, ...args: (string | number)[]): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await commandOnce(port, args);
    } catch (err) {
      if ((err as Error).name === "ReplyError" || attempt === 3) throw err;
      await delay(50);
    }
  }
}

async function commandOnce(port: number, args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: HOST,
    port,
    protocol: 2,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout: 1000,
    enableReadyCheck: false,
    // disconnect() arms this timer and clears it only on a "close" that an already-closed socket
    // never emits: keep it short so no timer outlives the command.
    disconnectTimeout: 10,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    const [name, ...rest] = args;
    return await client.call(String(name), ...rest);
  } finally {
    client.disconnect();
  }
}

function dataConf(dir: string, port: number, masterPort: number | undefined): string {
  return [
    `bind ${HOST}`,
    `port ${port}`,
    "protected-mode no",
    "daemonize no",
    `logfile ${join(dir, `redis-${port}.log`)}`,
    `dir ${join(dir, `redis-${port}`)}`,
    'save ""',
    "appendonly no",
    "repl-diskless-sync yes",
    "repl-diskless-sync-delay 0",
    "repl-ping-replica-period 1",
    "notify-keyspace-events KEA",
    ...(masterPort === undefined ? [] : [`replicaof ${HOST} ${masterPort}`]),
    "",
  ].join("\n");
}

interface SentinelSeed {
  port: number;
  id: string;
}

function sentinelConf(
  dir: string,
  self: SentinelSeed,
  others: SentinelSeed[],
  o: Required<Omit<TopologyOptions, "dir">>,
  masterPort: number,
  replicaPorts: number[],
): string {
  const name = o.masterName;
  return [
    `bind ${HOST}`,
    `port ${self.port}`,
    "protected-mode no",
    "daemonize no",
    `logfile ${join(dir, `sentinel-${self.port}.log`)}`,
    `dir ${join(dir, `sentinel-${self.port}`)}`,
    "sentinel resolve-hostnames no",
    "sentinel announce-hostnames no",
    `sentinel myid ${self.id}`,
    `sentinel monitor ${name} ${HOST} ${masterPort} ${o.quorum}`,
    `sentinel down-after-milliseconds ${name} ${o.downAfterMs}`,
    `sentinel failover-timeout ${name} ${o.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    // Seeding skips about 2 s of hello-based discovery.
    ...others.map((x) => `sentinel known-sentinel ${name} ${HOST} ${x.port} ${x.id}`),
    ...replicaPorts.map((p) => `sentinel known-replica ${name} ${HOST} ${p}`),
    "",
  ].join("\n");
}

async function launch(proc: Proc): Promise<void> {
  const args = proc.kind === "sentinel" ? [proc.conf, "--sentinel"] : [proc.conf];
  const child = spawn(REDIS_SERVER, args, { stdio: "ignore" });
  running.add(child);
  proc.child = child;
  let exitedYet = false;
  proc.exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exitedYet = true;
      running.delete(child);
      if (proc.child === child) proc.child = undefined;
      resolve();
    });
    child.once("error", () => {
      exitedYet = true;
      running.delete(child);
      if (proc.child === child) proc.child = undefined;
      resolve();
    });
  });
  const deadline = Date.now() + 5000;
  for (;;) {
    if (exitedYet) {
      const log = await readFile(proc.conf.replace(/\.conf$/, ".log"), "utf8").catch(() => "");
      throw new Error(`redis-server on port ${proc.port} exited at start: ${log.slice(-600)}`);
    }
    try {
      if ((await redisCommand(proc.port, "PING")) === "PONG") return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${proc.port} did not answer PING in 5 s`);
    await delay(20);
  }
}

async function halt(proc: Proc, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  const child = proc.child;
  if (!child) return;
  child.kill("SIGCONT"); // a frozen process cannot act on SIGTERM
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await proc.exited;
  clearTimeout(timer);
}

function fields(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

function info(text: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of String(text).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function startOnce(
  options: Required<Omit<TopologyOptions, "dir">>,
  where: string | undefined,
): Promise<Topology> {
  const tmp = await topologyDir(where);
  const dir = tmp.path;
  const ports = await freePorts(1 + options.replicas + options.sentinels);
  const [masterPort, ...rest] = ports as [number, ...number[]];
  const replicaPorts = rest.slice(0, options.replicas);
  const seeds: SentinelSeed[] = rest
    .slice(options.replicas)
    .map((port) => ({ port, id: randomBytes(20).toString("hex") }));
  const procs = new Map<number, Proc>();
  const add = async (port: number, kind: Proc["kind"], text: string) => {
    const prefix = kind === "sentinel" ? "sentinel" : "redis";
    await mkdir(join(dir, `${prefix}-${port}`), { recursive: true });
    const conf = join(dir, `${prefix}-${port}.conf`);
    await writeFile(conf, text);
    procs.set(port, { port, kind, conf, child: undefined, exited: Promise.resolve() });
  };
  await add(masterPort, "data", dataConf(dir, masterPort, undefined));
  for (const p of replicaPorts) await add(p, "data", dataConf(dir, p, masterPort));
  for (const s of seeds) {
    const others = seeds.filter((x) => x !== s);
    await add(s.port, "sentinel", sentinelConf(dir, s, others, options, masterPort, replicaPorts));
  }

  const all = [...procs.values()];
  const sentinels = seeds.map((s) => ({ host: HOST, port: s.port }));
  const dataPorts = [masterPort, ...replicaPorts];
  const pidOf = (port: number) => procs.get(port)?.child?.pid;
  const procOf = (port: number) => {
    const p = procs.get(port);
    if (!p) throw new Error(`no process of this topology on port ${port}`);
    return p;
  };

  const sentinelAnswers = async (): Promise<Map<string, number>> => {
    const votes = new Map<string, number>();
    await Promise.all(
      seeds
        .filter((s) => pidOf(s.port) !== undefined)
        .map(async (s) => {
          try {
            const reply = await redisCommand(
              s.port,
              "SENTINEL",
              "get-master-addr-by-name",
              options.masterName,
            );
            if (Array.isArray(reply)) {
              const key = `${reply[0]}:${reply[1]}`;
              votes.set(key, (votes.get(key) ?? 0) + 1);
            }
          } catch {
            // a stopped or frozen sentinel does not vote
          }
        }),
    );
    return votes;
  };

  const topology: Topology = {
    dir,
    masterName: options.masterName,
    sentinels,
    dataPorts,
    async master() {
      const votes = [...(await sentinelAnswers()).entries()].sort((a, b) => b[1] - a[1]);
      const best = votes[0];
      if (!best) throw new Error("no Sentinel answered get-master-addr-by-name");
      const port = Number(best[0].split(":")[1]);
      return { host: HOST, port, pid: pidOf(port) ?? -1 };
    },
    async killMaster(signal = "SIGKILL") {
      const m = await topology.master();
      const proc = procOf(m.port);
      if (!proc.child) throw new Error(`master on port ${m.port} is not running`);
      proc.child.kill(signal);
      if (signal === "SIGKILL") await proc.exited;
      return m;
    },
    signal(port, signal) {
      const child = procOf(port).child;
      if (!child) throw new Error(`nothing runs on port ${port}`);
      child.kill(signal);
    },
    async stop(target) {
      const port = target === "master" ? (await topology.master()).port : target;
      await halt(procOf(port));
      return { host: HOST, port };
    },
    async restart(port) {
      const proc = procOf(port);
      if (proc.child) throw new Error(`port ${port} is still running (pid ${proc.child.pid})`);
      await launch(proc);
    },
    pid: pidOf,
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let why = "";
      for (;;) {
        try {
          why = await unhealthyReason();
          if (why === "") return;
        } catch (err) {
          why = (err as Error).message;
        }
        if (Date.now() > deadline) throw new Error(`topology not healthy after ${timeoutMs} ms: ${why}`);
        await delay(100);
      }
    },
    redisConfig(overrides = {}) {
      return RegistrySchema.parse({
        sentinelAddrs: sentinels.map((s) => `${s.host}:${s.port}`),
        masterName: options.masterName,
        ...overrides,
      });
    },
    async watchSwitches() {
      const switches: { at: number; port: number }[] = [];
      const subs = seeds
        .filter((s) => pidOf(s.port) !== undefined)
        .map((s) => new Redis({ host: HOST, port: s.port, protocol: 2, retryStrategy: () => 200 }));
      for (const sub of subs) {
        sub.on("error", () => {});
        sub.on("message", (_channel: string, message: string) => {
          const [name, , , , port] = message.split(" ");
          if (name === options.masterName) switches.push({ at: performance.now(), port: Number(port) });
        });
      }
      await Promise.all(subs.map((sub) => sub.subscribe("+switch-master")));
      return {
        switches,
        close() {
          for (const sub of subs) sub.disconnect();
        },
      };
    },
    command: (port, ...args) => redisCommand(port, ...args),
    async stopAll() {
      await Promise.all(all.filter((p) => p.kind === "sentinel").map((p) => halt(p)));
      await Promise.all(all.filter((p) => p.kind === "data").map((p) => halt(p)));
      await tmp.remove();
    },
  };

  /** "" when healthy, else what is wrong (for the timeout message). */
  async function unhealthyReason(): Promise<string> {
    const votes = await sentinelAnswers();
    const liveSentinels = seeds.filter((s) => pidOf(s.port) !== undefined);
    if (votes.size !== 1) return `sentinels disagree or do not answer: ${JSON.stringify([...votes])}`;
    const [addr, count] = [...votes.entries()][0]!;
    if (count !== liveSentinels.length) return `${liveSentinels.length - count} sentinel(s) did not answer`;
    const masterPort = Number(addr.split(":")[1]);
    if (pidOf(masterPort) === undefined) return `sentinels name ${addr}, which is not running`;
    const liveReplicas = dataPorts.filter((p) => p !== masterPort && pidOf(p) !== undefined);
    for (const s of liveSentinels) {
      const m = fields(await redisCommand(s.port, "SENTINEL", "master", options.masterName));
      if (m.flags !== "master") return `sentinel ${s.port} sees master flags ${m.flags}`;
      if (Number(m["num-other-sentinels"]) < liveSentinels.length - 1) {
        return `sentinel ${s.port} knows ${m["num-other-sentinels"]} other sentinels`;
      }
      const replicas = (await redisCommand(s.port, "SENTINEL", "replicas", options.masterName)) as unknown[];
      for (const port of liveReplicas) {
        const r = replicas.map(fields).find((x) => Number(x.port) === port);
        // Not master-link-status: Sentinel refreshes a replica's INFO only every 10 s, so it lags; the
        // replica's own INFO below is the truth, and Sentinel polls every second once a master is down.
        if (r?.flags !== "slave") {
          return `sentinel ${s.port} sees replica ${port} as ${r ? r.flags : "unknown"}`;
        }
      }
    }
    const role = info(await redisCommand(masterPort, "INFO", "replication"));
    if (role.role !== "master") return `${masterPort} reports role ${role.role}`;
    for (const port of liveReplicas) {
      const r = info(await redisCommand(port, "INFO", "replication"));
      if (r.role !== "slave" || Number(r.master_port) !== masterPort || r.master_link_status !== "up") {
        return `replica ${port}: role ${r.role} master ${r.master_port} link ${r.master_link_status}`;
      }
    }
    return "";
  }

  try {
    // Data nodes first: Sentinels that start before their master would count it down.
    for (const p of all.filter((x) => x.kind === "data")) await launch(p);
    await Promise.all(all.filter((x) => x.kind === "sentinel").map(launch));
    await topology.waitHealthy(15_000);
    return topology;
  } catch (err) {
    await topology.stopAll();
    throw err;
  }
}

/** A lone redis-server (a master with no Sentinel), for tests that need a Redis outside the topology. */
export async function startRedisServer(): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const tmp = await topologyDir(undefined);
    const [port] = (await freePorts(1)) as [number];
    await mkdir(join(tmp.path, `redis-${port}`), { recursive: true });
    const conf = join(tmp.path, `redis-${port}.conf`);
    await writeFile(conf, dataConf(tmp.path, port, undefined));
    const proc: Proc = { port, kind: "data", conf, child: undefined, exited: Promise.resolve() };
    try {
      await launch(proc);
    } catch (err) {
      await halt(proc);
      await tmp.remove();
      if (attempt === 3) throw err;
      continue;
    }
    return {
      port,
      pid: proc.child!.pid!,
      async stop() {
        await halt(proc);
        await tmp.remove();
      },
    };
  }
}

/** Starts a topology; retries on fresh ports when one was taken between picking and binding. */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const o: Required<Omit<TopologyOptions, "dir">> = {
    masterName: options.masterName ?? "mymaster",
    replicas: options.replicas ?? 1,
    sentinels: options.sentinels ?? 3,
    quorum: options.quorum ?? 2,
    downAfterMs: options.downAfterMs ?? 1000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 3000,
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(o, options.dir);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
