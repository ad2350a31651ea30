import { DfsError } from "../errors.ts";

/**
 * Resolves as `promise` does, or rejects with DFS_ERR_TIMEOUT after `ms`. The work itself is not
 * cancelled (a Redis write may still apply later); the timer never outlives the race.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DfsError("DFS_ERR_TIMEOUT", `${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
