/**
 * Time as the node's background work sees it: the byte budget's refills and the healer's rounds.
 * Injected so a test can drive time itself instead of waiting on the wall clock.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale: only differences mean anything. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason as soon as `signal` is aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** performance.now() and the global setTimeout. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", aborted);
        resolve();
      }, ms);
      function aborted() {
        clearTimeout(timer);
        reject(signal!.reason);
      }
      signal?.addEventListener("abort", aborted, { once: true });
    }),
};
