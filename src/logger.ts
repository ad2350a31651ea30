import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/**
 * JSON logs on stdout, one object per line; `service` tells which process wrote them. Written
 * asynchronously: lines logged while a write is in flight go out together in the next one, off the
 * event loop (a synchronous write per line was ~10% of a gateway's CPU on small requests). Pending
 * lines are flushed synchronously when the process exits.
 */
export function createLogger(service: string, level = process.env.DFS_LOG_LEVEL ?? "info"): Logger {
  return pino(
    { base: { service, pid: process.pid }, level, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false }),
  );
}
