import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DfsError } from "../../errors.ts";
import { isNotFound } from "./fsutil.ts";

/** The lock's file in the data directory. Never removed: a new inode would make a second lock. */
export const LOCK_FILE = "lock.db";
/** A pid file an older lock wrote beside it; meaningless now, removed once the lock is held. */
const PID_FILE = "lock";
/** SQLITE_BUSY and SQLITE_LOCKED: another connection holds the file. */
const BUSY = new Set([5, 6]);

/**
 * One node process per data directory. A second node on the same directory would empty tmp/
 * under the first one's writes and count every object twice.
 *
 * The lock is a kernel file lock: SQLite (built into Node) opens `<data>/lock.db` in exclusive
 * locking mode and writes to it, which takes a POSIX fcntl write lock on the file and holds it for
 * the life of the connection. The kernel keeps it on the file itself, so it holds across PID
 * namespaces (containers sharing a volume, where every node may be PID 1), and releases it the
 * moment the holder dies, even by SIGKILL: nothing is left to clean up. A start that finds it held
 * refuses with DFS_ERR_DATA_DIR_LOCKED. Limits: fcntl locks on network filesystems are only as
 * good as the server's lock manager (NFSv4 has one).
 */
export class DataDirLock {
  #db: DatabaseSync | undefined;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, LOCK_FILE);
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("BEGIN EXCLUSIVE");
      db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since INTEGER NOT NULL)");
      db.exec("DELETE FROM holder");
      // For people reading the file; the lock is the kernel's, not this row.
      db.prepare("INSERT INTO holder (pid, since) VALUES (?, ?)").run(process.pid, Date.now());
      db.exec("COMMIT");
    } catch (err) {
      db.close();
      if (BUSY.has((err as { errcode?: number }).errcode ?? 0)) {
        throw new DfsError(
          "DFS_ERR_DATA_DIR_LOCKED",
          `the data directory is in use by another node process (${path} is locked); one node per directory`,
          { cause: err },
        );
      }
      throw new DfsError("DFS_ERR_INTERNAL", `could not take the lock ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      unlinkSync(join(dataDir, PID_FILE));
    } catch (err) {
      if (!isNotFound(err)) {
        db.close();
        throw err;
      }
    }
    return new DataDirLock(db);
  }

  /** Releases the lock (closes the connection; the kernel drops the lock). Idempotent. */
  release(): void {
    this.#db?.close();
    this.#db = undefined;
  }
}
