import type { ApplyResult, TableRecord } from "../formats/index.ts";
import type { TableStore } from "./tables/index.ts";

/** The longest a PUT's records wait for others to share their commit when no body ends meanwhile. */
const MAX_WAIT_MS = 20;
/** Records that start a commit at once. */
const MAX_QUEUED = 256;

interface Waiting {
  records: readonly TableRecord[];
  resolve: (results: ApplyResult[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit of the table records PUTs carry (a chunk's upload hold, ARCHITECTURE.md "Chunk
 * references and garbage collection"). Each record in a commit of its own costs the node an LMDB
 * commit per chunk: 0.36-0.51 CPU s per 1,024 records here, against 0.05-0.06 in commits of 16 (a
 * TableStore on this disk, fsync on). So a PUT's records wait here, checked, until some PUT's body
 * has arrived (`flush`), and then go in one commit with those of every PUT queued by then: the
 * concurrent chunks of an upload share it, and it is synced while that chunk is. A PUT still
 * answers only once its records are durable.
 */
export class PutRecords {
  readonly #tables: TableStore;
  #queue: Waiting[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(tables: TableStore) {
    this.#tables = tables;
  }

  /**
   * Resolves with `records`' results once they are durable. A record the tables would refuse fails
   * its own PUT here, never the commit it would have shared.
   */
  add(records: readonly TableRecord[]): Promise<ApplyResult[]> {
    try {
      this.#tables.check(records);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ records, resolve, reject });
      this.#queued += records.length;
      if (this.#queued >= MAX_QUEUED) return this.flush();
      this.#timer ??= setTimeout(() => this.flush(), MAX_WAIT_MS);
    });
  }

  /** Commits every record queued so far, in one transaction. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    this.#queued = 0;
    this.#tables.apply(batch.flatMap((w) => w.records)).then(
      (results) => {
        let at = 0;
        for (const w of batch) {
          w.resolve(results.slice(at, at + w.records.length));
          at += w.records.length;
        }
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
