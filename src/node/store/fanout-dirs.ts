import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { DirSyncer } from "./dir-sync.ts";
import { KeyedMutex } from "./fsutil.ts";

/**
 * The fan-out directories of the file layout and their durability. A rename is durable once its
 * directory is fsynced, and a directory made for it once its parent is too: both go in the same
 * group-committed round (dir-sync.ts) after the rename, never a serial fsync before it.
 */
export class FanoutDirs {
  readonly #roots: readonly string[];
  readonly #syncer: DirSyncer | undefined;
  readonly #locks = new KeyedMutex();
  /** Fan-out directories known to exist (the store never removes them). */
  readonly #known = new Set<string>();
  /** Directories made whose entry in their parent is not yet known durable: made -> parent. */
  readonly #unsynced = new Map<string, string>();

  /**
   * `roots`: the directories the fan-out trees hang from, which exist and are durable. `syncer`
   * runs the directory fsyncs; absent (fsync off), nothing is synced.
   */
  constructor(roots: readonly string[], syncer?: DirSyncer) {
    this.#roots = roots;
    this.#syncer = syncer;
  }

  /**
   * Makes sure `dir` exists. Each directory made is recorded with its parent, whose entry for it
   * is not durable until that parent is fsynced (durable()). On the pool: after a restart the
   * first write into each directory looks it up, perhaps from the disk. One mkdir at a time per
   * first-level directory, so that a write never misses a directory another write has made but not
   * recorded yet.
   */
  async ensure(dir: string): Promise<void> {
    if (this.#known.has(dir)) return;
    await this.#locks.run(dirname(dir), async () => {
      if (this.#known.has(dir)) return;
      const created = await mkdir(dir, { recursive: true });
      if (created !== undefined && this.#syncer) {
        for (let d = dir; ; d = dirname(d)) {
          this.#unsynced.set(d, dirname(d));
          if (d === created || this.#roots.includes(d)) break;
        }
      }
      this.#known.add(dir);
    });
  }

  /**
   * Resolves once a rename made into `dir` is durable: `dir` and the parents of the directories
   * made on the way to it are fsynced, in one round. Nothing to do with fsync off.
   */
  async durable(dir: string): Promise<void> {
    const syncer = this.#syncer;
    if (!syncer) return;
    const pending = this.#pending(dir);
    await Promise.all([dir, ...pending.map(([, parent]) => parent)].map((d) => syncer.sync(d)));
    for (const [made] of pending) this.#unsynced.delete(made);
  }

  /** The made directories on the way from `dir` up to its root whose parents still need a sync. */
  #pending(dir: string): [dir: string, parent: string][] {
    const pending: [string, string][] = [];
    if (this.#unsynced.size === 0) return pending;
    for (let d = dir; !this.#roots.includes(d) && d !== dirname(d); d = dirname(d)) {
      const parent = this.#unsynced.get(d);
      if (parent !== undefined) pending.push([d, parent]);
    }
    return pending;
  }
}
