import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { DfsError } from "../../errors.ts";
import { isNotFound } from "./fsutil.ts";

/** Attempts at taking a lock whose holder died, before giving up on a directory that keeps changing. */
const TAKEOVER_ATTEMPTS = 5;

/**
 * One node process per data directory. A second node on the same directory would empty tmp/
 * under the first one's writes and count every object twice. `<data>/lock` holds the holder's
 * pid, created exclusively; a start that finds the pid of a live process (not its own) refuses
 * with DFS_ERR_DATA_DIR_LOCKED, a lock left by a process that died (SIGKILL, power loss) is taken
 * over, as PostgreSQL does with postmaster.pid. Limits: the pid is only meaningful on this host
 * and in this pid namespace, so two containers sharing a volume are not told apart.
 */
export class DataDirLock {
  readonly #path: string;
  #held = true;

  private constructor(path: string) {
    this.#path = path;
  }

  static acquire(path: string): DataDirLock {
    const mine = `${process.pid}\n`;
    for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
      try {
        writeFileSync(path, mine, { flag: "wx", mode: 0o640 });
        return new DataDirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = readHolder(path);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new DfsError(
          "DFS_ERR_DATA_DIR_LOCKED",
          `the data directory is in use by process ${holder} (${path}); one node per directory`,
          { details: { pid: holder } },
        );
      }
      // Its holder is gone (or it is ours, from a store not closed in this process): remove, retry.
      try {
        unlinkSync(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    throw new DfsError("DFS_ERR_DATA_DIR_LOCKED", `could not take the lock ${path}: it keeps changing`);
  }

  /** Removes the lock if it is still ours. Idempotent. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (readHolder(this.#path) !== process.pid) return;
    try {
      unlinkSync(this.#path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** The pid in a lock file; undefined when the file is gone, empty or not a pid (a torn write). */
function readHolder(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Signal 0 checks existence only; EPERM means it exists under another user. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
