import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/** JSON logs on stdout, one object per line; `service` tells which process wrote them. */
export function createLogger(service: string, level = process.env.DFS_LOG_LEVEL ?? "info"): Logger {
  return pino({ base: { service, pid: process.pid }, level, timestamp: pino.stdTimeFunctions.isoTime });
}
