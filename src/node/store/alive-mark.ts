import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isNotFound } from "./fsutil.ts";

/**
 * `<data>/alive`: when this node last took part in its cluster (ms since the epoch). A node away
 * from its cluster for longer than the tombstone grace may hold manifests of files deleted
 * meanwhile (src/node/main.ts warns at start); the healer marks it after every repair round.
 */
export class AliveMark {
  readonly #file: string;

  constructor(dataDir: string) {
    this.#file = join(dataDir, "alive");
  }

  /** Records that the node takes part in its cluster now. */
  async mark(): Promise<void> {
    await writeFile(this.#file, `${Date.now()}\n`);
  }

  /** When mark() last ran on this data directory; undefined when it never did or the file is unreadable. */
  async last(): Promise<number | undefined> {
    try {
      const at = Number((await readFile(this.#file, "utf8")).trim());
      return Number.isSafeInteger(at) && at > 0 ? at : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
