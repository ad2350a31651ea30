import type { SideStarter } from "../gateway/index.ts";
import { startS3Listener } from "./listener.ts";

/**
 * Starts the S3 listener beside a gateway's /v1 app when s3.listen is set: the same context (name
 * service, access keys, metrics, limits) and the same transfer slots.
 */
export const startS3Beside: SideStarter = async (app, config, logger) => {
  const addr = config.s3.listenAddr;
  if (addr === undefined) return undefined;
  const { ctx, slots } = app.shared;
  const g = config.gateway;
  return startS3Listener(
    {
      names: ctx.names,
      directory: ctx.access,
      keyed: g.apiKeys.length > 0 || g.apiKeysFile !== undefined,
      region: config.s3.region,
      gateway: ctx.config,
      logger,
      metrics: ctx.metrics,
      slots,
    },
    addr,
  );
};
