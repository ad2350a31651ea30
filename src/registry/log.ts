import type { Logger } from "../logger.ts";

/**
 * Logs a repeating failure once, then at most once per `everyMs` with how many were suppressed:
 * while Redis is down ioredis emits an error on every retry (several per second per client).
 */
export function throttledWarn(logger: Logger, msg: string, everyMs = 5000): (err: Error) => void {
  let lastAt = 0;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - lastAt < everyMs) {
      suppressed++;
      return;
    }
    logger.warn({ err: err.message, suppressed }, msg);
    lastAt = now;
    suppressed = 0;
  };
}

/** The logger with `component: "registry"`, unless the caller bound a component already (no duplicate keys). */
export function registryLogger(logger: Logger, extra: Record<string, unknown> = {}): Logger {
  const bindings = logger.bindings();
  return logger.child({ ...(bindings.component === undefined ? { component: "registry" } : {}), ...extra });
}
