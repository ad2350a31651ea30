/**
 * One `redis-server` child process (a data node or a Sentinel) on a loopback port, and the small
 * tools a topology needs around it: free ports and one-off commands. Processes are children, never
 * daemons: their pids are known, and an exit hook kills any still running.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";

export const HOST = "127.0.0.1";
const REDIS_SERVER =
  process.env.DFS_REDIS_SERVER ??
  (existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server");

export interface Address {
  host: string;
  port: number;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Free loopback ports, all held open at once so they are distinct, then released. */
export async function freePorts(count: number): Promise<number[]> {
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
export function redisCommand(port: number, ...args: (string | number)[]): Promise<unknown> {
  return redisCommandAt(HOST, port, ...args);
}

/** redisCommand to a process on another address (the partition harness's hosts). */
export async function redisCommandAt(
  host: string,
  port: number,
  ...args: (string | number)[]
): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await commandOnce(host, port, args);
    } catch (err) {
      if ((err as Error).name === "ReplyError" || attempt === 3) throw err;
      await delay(50);
    }
  }
}

async function commandOnce(host: string, port: number, args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host,
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

/** A redis-server run from its config file; it can be started again after it stopped. */
export class RedisProcess {
  readonly port: number;
  readonly kind: "data" | "sentinel";
  /** The config file (Sentinel rewrites its own, so a restart keeps what it learnt). */
  readonly conf: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(port: number, kind: "data" | "sentinel", conf: string) {
    this.port = port;
    this.kind = kind;
    this.conf = conf;
  }

  /** The running process, undefined when it is stopped. */
  get child(): ChildProcess | undefined {
    return this.#child;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Resolves when the current process has exited (at once when none runs). */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** Spawns the process and resolves once it answers PING (5 s at most). */
  async start(): Promise<void> {
    if (this.#child) throw new Error(`port ${this.port} is still running (pid ${this.#child.pid})`);
    const args = this.kind === "sentinel" ? [this.conf, "--sentinel"] : [this.conf];
    const child = spawn(REDIS_SERVER, args, { stdio: "ignore" });
    running.add(child);
    this.#child = child;
    let exitedYet = false;
    this.#exited = new Promise<void>((resolve) => {
      const gone = () => {
        exitedYet = true;
        running.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      };
      child.once("exit", gone);
      child.once("error", gone);
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      if (exitedYet) {
        const log = await readFile(this.conf.replace(/\.conf$/, ".log"), "utf8").catch(() => "");
        throw new Error(`redis-server on port ${this.port} exited at start: ${log.slice(-600)}`);
      }
      try {
        if ((await redisCommand(this.port, "PING")) === "PONG") return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${this.port} did not answer PING in 5 s`);
      await delay(20);
    }
  }

  /** Sends `signal` (SIGKILL after 3 s) and waits for the process to exit; nothing when none runs. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill("SIGCONT"); // a frozen process cannot act on SIGTERM
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await this.#exited;
    clearTimeout(timer);
  }
}
