import { Names } from "../names/index.ts";
import type { GatewayContext } from "./context.ts";
import { GatewayFiles } from "./files.ts";
import type { ReadAheadBudget } from "./guards.ts";

/**
 * The naming service over a gateway's context: its tables and its files. The app builds one
 * (ctx.names); the S3 listener, given the same context, uses that one.
 */
export function nameServiceFor(
  ctx: GatewayContext,
  options: { now?: (() => number) | undefined; readAhead?: ReadAheadBudget | undefined } = {},
): Names {
  return new Names({
    now: options.now,
    tables: ctx.tables,
    files: new GatewayFiles(ctx, options.readAhead),
    multipartMaxAgeMs: ctx.config.multipartMaxAgeMs,
    onReleaseError: (err, sha256) =>
      ctx.logger.warn(
        { sha256, code: err.code, err: err.message },
        "a file's release failed; it stays (a leak, not a loss)",
      ),
  });
}

/**
 * Sweeps old multipart uploads every multipartSweepMs (0: never). Every gateway may run it: two
 * sweeps at once remove the same uploads twice, which is harmless.
 */
export function startUploadSweep(ctx: GatewayContext): { stop(): void } {
  const every = ctx.config.multipartSweepMs;
  if (every === 0) return { stop() {} };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    ctx.names
      .sweepUploads()
      .then(
        (removed) => {
          if (removed > 0) ctx.logger.info({ removed }, "old multipart uploads removed");
        },
        (err: unknown) => ctx.logger.warn({ err }, "the multipart sweep failed; the next one retries"),
      )
      .finally(() => {
        running = false;
      });
  }, every);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
