import type { FastifyInstance } from "fastify";
import {
  formatHostPort,
  fullKeys,
  type GatewayConfig,
  type KeysWatcher,
  watchKeysFile,
} from "../config/index.ts";
import { resolveTrust } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { startMembershipView } from "../registry/index.ts";
import { NodeClient, peerIdsFrom } from "../transport/index.ts";
import { buildGateway, keysOf } from "./app.ts";
import type { ApiKeys } from "./auth.ts";
import type { GatewayDeps } from "./context.ts";
import { checkChunkBytes } from "./limits.ts";

/** How long a stopping gateway waits for in-flight requests (uploads above all) before cutting them. */
export const SHUTDOWN_GRACE_MS = 30_000;

/** Another listener started beside /v1 over the same context (the S3 API, src/s3/). */
export interface SideListener {
  readonly address: string;
  close(graceMs: number): Promise<void>;
}
export type SideStarter = (
  app: FastifyInstance,
  config: GatewayConfig,
  logger: Logger,
) => Promise<SideListener | undefined>;

/**
 * Routes added to the app before it listens (the web console, src/console/). `s3Address` answers
 * the S3 listener's "host:port" once it runs (it starts after the app listens).
 */
export type AppExtension = (
  app: FastifyInstance,
  config: GatewayConfig,
  logger: Logger,
  s3Address: () => string | undefined,
) => void;

export interface RunningGateway {
  readonly app: FastifyInstance;
  /** "host:port" actually bound (the port is chosen by the OS for port 0). */
  readonly address: string;
  /** The S3 listener's "host:port", when one runs. */
  readonly s3Address: string | undefined;
  /** Re-reads the keys file now (SIGHUP); a no-op without one. */
  reloadKeys(): void;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes view and client. */
  close(graceMs?: number): Promise<void>;
}

/** Follows gateway.apiKeysFile, if set: its keys replace the file's previous ones, apiKeys stay. */
function followKeys(config: GatewayConfig, keys: ApiKeys, logger: Logger): KeysWatcher | undefined {
  const g = config.gateway;
  if (g.keys.length === 0) {
    if (g.apiKeysFile === undefined)
      logger.warn({ listen: g.listen }, "no API keys: anyone who can connect may do anything");
    else
      logger.warn(
        { file: g.apiKeysFile },
        "the keys file holds no key: every request that needs one is refused",
      );
  }
  if (g.apiKeysFile === undefined) return undefined;
  return watchKeysFile(g.apiKeysFile, {
    pollMs: g.apiKeysPollMs,
    onKeys: (fileKeys) => {
      keys.replace([...fullKeys(g.apiKeys), ...fileKeys]);
      logger.info({ file: g.apiKeysFile, keys: keys.names }, "API keys loaded");
    },
    onError: (err) =>
      logger.error({ err, file: g.apiKeysFile }, "API keys not reloaded; the previous keys stay"),
  });
}

/**
 * Wires the real dependencies (membership view, node client) and listens. The gateway's identity
 * is a `gateway` credential for its listen address (host:port as configured); without trust
 * configured it refuses to start.
 */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  extra: Pick<GatewayDeps, "now"> & {
    startS3?: SideStarter | undefined;
    extend?: AppExtension | undefined;
  } = {},
): Promise<RunningGateway> {
  checkChunkBytes(config.gateway.chunkBytes); // before anything that would keep the process alive
  if (config.trust === undefined) {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      "cluster.identityFile and cluster.authorityPublicKey are required (a gateway credential from `dfs credential issue`; for development, cluster.authorityKey)",
    );
  }
  // The gateway's credential is for its listen address: it seals the link, signs manifests and
  // tombstones, and its anchor checks node records.
  const trust = {
    ...resolveTrust(config.trust, "gateway", formatHostPort(config.gateway.listenAddr)),
    secret: config.secret,
  };
  const view = await startMembershipView(config.registry, { logger, anchor: trust.anchor });
  // Only registered nodes are dialled, and each must prove the id registered at its address.
  const nodes = new NodeClient({ trust, peerIds: peerIdsFrom(() => view, true) });
  const keys = keysOf(config);
  let app: FastifyInstance | undefined;
  let s3: SideListener | undefined;
  try {
    const { startS3, extend, ...more } = extra;
    app = buildGateway(config, { nodes, view, logger, identity: trust.identity, ...more }, keys);
    extend?.(app, config, logger, () => s3?.address);
    await app.listen({ host: config.gateway.listenAddr.host, port: config.gateway.listenAddr.port });
    s3 = await startS3?.(app, config, logger);
  } catch (err) {
    await Promise.allSettled([app?.close(), view.close(), nodes.close()]);
    throw err;
  }
  const bound = app.server.address();
  const address =
    bound !== null && typeof bound === "object"
      ? formatHostPort({ host: bound.address, port: bound.port })
      : formatHostPort(config.gateway.listenAddr);

  const watcher = followKeys(config, keys, logger);
  let closing: Promise<void> | undefined;
  const close = (graceMs = SHUTDOWN_GRACE_MS) => {
    closing ??= (async () => {
      watcher?.close();
      const timer = setTimeout(() => {
        logger.warn({ graceMs }, "in-flight requests did not finish in time; closing their connections");
        app.server.closeAllConnections();
      }, graceMs);
      try {
        await Promise.all([app.close(), s3?.close(graceMs)]);
      } finally {
        clearTimeout(timer);
        await Promise.allSettled([view.close(), nodes.close()]);
      }
    })();
    return closing;
  };
  return { app, address, s3Address: s3?.address, close, reloadKeys: () => watcher?.reload() };
}

/** Runs a gateway until SIGTERM/SIGINT, then shuts down gracefully; SIGHUP re-reads the keys file. */
export async function runGateway(
  config: GatewayConfig,
  logger: Logger,
  startS3?: SideStarter,
  extend?: AppExtension,
): Promise<void> {
  const gateway = await startGateway(config, logger, { startS3, extend });
  const hangup = () => gateway.reloadKeys();
  process.on("SIGHUP", hangup);
  logger.info(
    { address: gateway.address, ...(gateway.s3Address === undefined ? {} : { s3: gateway.s3Address }) },
    "gateway listening",
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (s: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(s);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  process.off("SIGHUP", hangup);
  logger.info({ signal }, "gateway stopping");
  await gateway.close();
  logger.info("gateway stopped");
}
