import type { FastifyInstance } from "fastify";
import { formatHostPort, type GatewayConfig } from "../config/index.ts";
import type { Logger } from "../logger.ts";
import { startMembershipView } from "../registry/index.ts";
import { NodeClient } from "../transport/index.ts";
import { buildGateway } from "./app.ts";
import { checkChunkBytes } from "./limits.ts";

/** How long a stopping gateway waits for in-flight requests (uploads above all) before cutting them. */
export const SHUTDOWN_GRACE_MS = 30_000;

export interface RunningGateway {
  readonly app: FastifyInstance;
  /** "host:port" actually bound (the port is chosen by the OS for port 0). */
  readonly address: string;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes view and client. */
  close(graceMs?: number): Promise<void>;
}

/** Wires the real dependencies (membership view, node client) and listens. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  checkChunkBytes(config.gateway.chunkBytes); // before anything that would keep the process alive
  const view = await startMembershipView(config.registry, { logger });
  const nodes = new NodeClient({ secret: config.secret });
  let app: FastifyInstance | undefined;
  try {
    app = buildGateway(config, { nodes, view, logger });
    await app.listen({ host: config.gateway.listenAddr.host, port: config.gateway.listenAddr.port });
  } catch (err) {
    await Promise.allSettled([app?.close(), view.close(), nodes.close()]);
    throw err;
  }
  const bound = app.server.address();
  const address =
    bound !== null && typeof bound === "object"
      ? formatHostPort({ host: bound.address, port: bound.port })
      : formatHostPort(config.gateway.listenAddr);

  let closing: Promise<void> | undefined;
  const close = (graceMs = SHUTDOWN_GRACE_MS) => {
    closing ??= (async () => {
      const timer = setTimeout(() => {
        logger.warn({ graceMs }, "in-flight requests did not finish in time; closing their connections");
        app.server.closeAllConnections();
      }, graceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        await Promise.allSettled([view.close(), nodes.close()]);
      }
    })();
    return closing;
  };
  return { app, address, close };
}

/** Runs a gateway until SIGTERM/SIGINT, then shuts down gracefully. */
export async function runGateway(config: GatewayConfig, logger: Logger): Promise<void> {
  const gateway = await startGateway(config, logger);
  logger.info({ address: gateway.address }, "gateway listening");
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (s: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(s);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  logger.info({ signal }, "gateway stopping");
  await gateway.close();
  logger.info("gateway stopped");
}
