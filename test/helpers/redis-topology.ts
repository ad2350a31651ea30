/**
 * The Redis Sentinel topology of src/dev with the controls only tests use: find the master, kill or
 * freeze a process, stop and restart one, watch failovers, run a command by address.
 */
import { Redis } from "ioredis";
import { type RegistryConfig, RegistrySchema } from "../../src/config/schema.ts";
import { sentinelVotes } from "../../src/dev/redis-health.ts";
import { type Address, HOST, type RedisProcess, redisCommand } from "../../src/dev/redis-process.ts";
import {
  type Topology as DevTopology,
  startTopology as startDevTopology,
  type TopologyOptions,
} from "../../src/dev/redis-topology.ts";

export type { Address } from "../../src/dev/redis-process.ts";
export { startRedisServer, type TopologyOptions } from "../../src/dev/redis-topology.ts";

export interface Member extends Address {
  pid: number;
}

/** A topology with the controls a test needs to fail it. */
export interface Topology extends DevTopology {
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
  /** Registry settings for this topology, with defaults from the schema; overrides win. */
  redisConfig(overrides?: Partial<RegistryConfig>): RegistryConfig;
  /**
   * Records every `+switch-master` any Sentinel publishes (performance.now() and the new port), from
   * now until close(). Resolves once subscribed on every running Sentinel.
   */
  watchSwitches(): Promise<{ readonly switches: { at: number; port: number }[]; close(): void }>;
  /** Runs one command against the process on this port (by address: tests only). */
  command(port: number, ...args: (string | number)[]): Promise<unknown>;
}

/** Adds the test controls to a running topology. */
export function withControls(t: DevTopology): Topology {
  const procOf = (port: number): RedisProcess => {
    const p = t.processes.get(port);
    if (!p) throw new Error(`no process of this topology on port ${port}`);
    return p;
  };
  const pid = (port: number) => t.processes.get(port)?.pid;
  const topology: Topology = {
    ...t,
    async master() {
      const votes = [...(await sentinelVotes(t)).entries()].sort((a, b) => b[1] - a[1]);
      const best = votes[0];
      if (!best) throw new Error("no Sentinel answered get-master-addr-by-name");
      const port = Number(best[0].split(":")[1]);
      return { host: HOST, port, pid: pid(port) ?? -1 };
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
      await procOf(port).stop();
      return { host: HOST, port };
    },
    restart: (port) => procOf(port).start(),
    pid,
    redisConfig(overrides = {}) {
      return RegistrySchema.parse({
        sentinelAddrs: t.sentinels.map((s) => `${s.host}:${s.port}`),
        masterName: t.masterName,
        ...overrides,
      });
    },
    async watchSwitches() {
      const switches: { at: number; port: number }[] = [];
      const subs = t.sentinels
        .filter((s) => pid(s.port) !== undefined)
        .map((s) => new Redis({ host: HOST, port: s.port, protocol: 2, retryStrategy: () => 200 }));
      for (const sub of subs) {
        sub.on("error", () => {});
        sub.on("message", (_channel: string, message: string) => {
          const [name, , , , port] = message.split(" ");
          if (name === t.masterName) switches.push({ at: performance.now(), port: Number(port) });
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
  };
  return topology;
}

/** Starts a topology (see src/dev/redis-topology.ts) with the test controls. */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  return withControls(await startDevTopology(options));
}
