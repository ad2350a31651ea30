/**
 * Helpers for the registry tests: a topology for the file, in-process members, a TCP probe, polling
 * with a deadline.
 */
import { createConnection, createServer, type Server } from "node:net";
import { after, before } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { pino } from "pino";
import type { RegistryConfig } from "../../src/config/index.ts";
import type { Identity, TrustAnchor } from "../../src/credentials/index.ts";
import type { Logger } from "../../src/logger.ts";
import {
  createRedis,
  type NodeMembership,
  type NodeRecord,
  type RegistryRedis,
  startNodeMembership,
} from "../../src/registry/index.ts";
import { startTopology, type Topology } from "./redis-topology.ts";

/** Test logs go to stderr, quiet unless DFS_TEST_LOG_LEVEL says otherwise. */
export function testLogger(): Logger {
  return pino({ level: process.env.DFS_TEST_LOG_LEVEL ?? "error" }, pino.destination(2));
}

export interface RegistryTopology {
  /** The file's Redis Sentinel topology; read it inside tests (it starts in `before`). */
  readonly topology: Topology;
  /** A client on it, to read and plant keys directly. */
  readonly db: RegistryRedis;
  /** A registry config on the topology under `prefix`, with the file's short timings. */
  fast(prefix: string, overrides?: Partial<RegistryConfig>): RegistryConfig;
}

/**
 * One Redis Sentinel topology for the calling test file and a client on it, started in `before` and
 * stopped in `after`. `fast` timings: heartbeat 200 ms, TTL 1.5 s, resync 500 ms, reconnect grace
 * 1 s, then `timings`.
 */
export function useRegistryTopology(logger: Logger, timings: Partial<RegistryConfig> = {}): RegistryTopology {
  let topology: Topology | undefined;
  let db: RegistryRedis | undefined;
  before(async () => {
    topology = await startTopology();
    db = createRedis(topology.redisConfig(), logger);
  });
  after(async () => {
    await db?.close();
    await topology?.stopAll();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the registry topology starts in before()");
    return value;
  };
  return {
    get topology() {
      return started(topology);
    },
    get db() {
      return started(db);
    },
    fast: (prefix, overrides = {}) =>
      started(topology).redisConfig({
        prefix,
        heartbeatIntervalMs: 200,
        heartbeatTtlMs: 1500,
        resyncIntervalMs: 500,
        reconnectGraceMs: 1000,
        ...timings,
        ...overrides,
      }),
  };
}

/** Whether something accepts a TCP connection at "host:port" within 1 s. */
export function tcpProbe(addr: string): Promise<boolean> {
  const i = addr.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = createConnection({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Polls `check` every 20 ms until it returns a value other than undefined/false; throws after timeoutMs. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

export interface Member {
  readonly id: string;
  readonly addr: string;
  readonly membership: NodeMembership;
  /** Every acknowledged heartbeat with when (performance.now()) the ack arrived. */
  readonly beats: { record: NodeRecord; ackAt: number }[];
  /** Changes what the next heartbeats report as free space. */
  freeBytes: number;
  close(): Promise<void>;
}

/** A node member in this process, listening on a real port so peers can probe it. */
export async function startMember(
  config: RegistryConfig,
  id: string,
  options: {
    logger?: Logger;
    reapIntervalMs?: number;
    zone?: string;
    identity?: Identity;
    anchor?: TrustAnchor;
  } = {},
): Promise<Member> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const beats: Member["beats"] = [];
  const startedAt = Date.now();
  const member = {
    id,
    addr,
    beats,
    freeBytes: 1000,
  } as Member & { membership: NodeMembership };
  try {
    member.membership = await startNodeMembership(
      config,
      () => ({
        id,
        addr,
        zone: options.zone ?? "z1",
        capacityBytes: 10_000,
        freeBytes: member.freeBytes,
        version: "test",
        startedAt,
      }),
      {
        logger: options.logger ?? testLogger(),
        probe: tcpProbe,
        onHeartbeat: (record) => beats.push({ record, ackAt: performance.now() }),
        ...(options.reapIntervalMs === undefined ? {} : { reapIntervalMs: options.reapIntervalMs }),
        ...(options.identity && { identity: options.identity }),
        ...(options.anchor && { anchor: options.anchor }),
      },
    );
  } catch (err) {
    server.close();
    throw err;
  }
  member.close = async () => {
    await member.membership.close();
    await new Promise((resolve) => server.close(resolve));
  };
  return member;
}
