/**
 * A node under a second address: a TCP port that relays to it (as a NAT rule or a second DNS name
 * would), and a registry record that names that address under another id.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { RegistryConfig } from "../../src/config/index.ts";
import { RegistrySchema } from "../../src/config/schema.ts";
import { issueIdentity, signingKeyFromSeed } from "../../src/credentials/index.ts";
import { type NodeMembership, startNodeMembership } from "../../src/registry/index.ts";
import { TEST_AUTHORITY_KEY } from "./cluster.ts";
import { tcpProbe, testLogger } from "./registry.ts";

export interface Alias {
  readonly addr: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and relays every connection to `target` ("host:port"). */
export async function startAlias(target: string): Promise<Alias> {
  const i = target.lastIndexOf(":");
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((inbound) => {
    accepted++;
    const outbound = connect({ host, port });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    addr,
    get accepted() {
      return accepted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The registry of a lone redis-server on 127.0.0.1, with the test nodes' heartbeat timings. */
export function plainRegistry(redisPort: number, prefix: string): RegistryConfig {
  return RegistrySchema.parse({
    url: `redis://127.0.0.1:${redisPort}`,
    prefix,
    heartbeatIntervalMs: 200,
    heartbeatTtlMs: 2000,
  });
}

/**
 * Registers `addr` under `id`, heartbeating like a node until closed, its record signed under a
 * node credential for `id` from the test authority (as a second, misconfigured node would be).
 */
export function registerAs(config: RegistryConfig, id: string, addr: string): Promise<NodeMembership> {
  return startNodeMembership(
    config,
    () => ({
      id,
      addr,
      zone: "default",
      capacityBytes: 10 * 1024 ** 3,
      freeBytes: 10 * 1024 ** 3,
      version: "test",
      startedAt: Date.now(),
    }),
    {
      logger: testLogger(),
      probe: tcpProbe,
      identity: issueIdentity(
        signingKeyFromSeed(Buffer.from(TEST_AUTHORITY_KEY, "hex")),
        "node",
        id,
        Date.now(),
        3_600_000,
      ).identity,
    },
  );
}
