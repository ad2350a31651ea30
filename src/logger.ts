import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Longest a log line waits in the buffer before it is written. */
const FLUSH_INTERVAL_MS = 100;

/**
 * JSON logs on stdout, one object per line; `service` tells which process wrote them. Buffered and
 * written asynchronously, off the event loop: at least 4 KiB at a time, or whatever is pending
 * every FLUSH_INTERVAL_MS (a write per line costs ~10% of a gateway's CPU on small requests). Pending
 * lines are flushed synchronously when the process exits.
 */
export function createLogger(service: string, level = process.env.DFS_LOG_LEVEL ?? "info"): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), FLUSH_INTERVAL_MS).unref();
  return pino(
    { base: { service, pid: process.pid }, level, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}
