/**
 * The candidate engines of bench/table-engine.ts behind one small interface, each doing what a
 * node's table does with a write: read the version held, keep the newer, commit durably, answer
 * once the commit is on the disk. Keys are opaque bytes (bytewise order); a stored value starts
 * with its 8-byte version, big-endian, so "newer" is a byte comparison of those 8 bytes.
 */
import { once } from "node:events";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";

export interface Put {
  key: Buffer;
  /** 8 bytes of version, then the record's bytes. */
  value: Buffer;
}

export interface BenchEngine {
  readonly name: string;
  /** Durable before it resolves: per put, whether it was newer than what was held. */
  apply(puts: readonly Put[]): Promise<boolean[]>;
  get(key: Buffer): Buffer | undefined;
  /** Reads up to `limit` records from `start` (inclusive) below `end`; returns their bytes summed. */
  range(start: Buffer, end: Buffer, limit: number): number;
  close(): Promise<void>;
}

const newer = (incoming: Buffer, held: Buffer | undefined): boolean =>
  held === undefined || Buffer.compare(incoming.subarray(0, 8), held.subarray(0, 8)) > 0;

/** lmdb-js: one async transaction per caller, batched into one commit per event-loop turn. */
export async function openLmdb(dir: string, overlappingSync: boolean): Promise<BenchEngine> {
  const { open } = await import("lmdb");
  const db = open({
    path: join(dir, "tables.lmdb"),
    keyEncoding: "binary",
    encoding: "binary",
    overlappingSync,
  });
  return {
    name: overlappingSync ? "lmdb (overlappingSync, await flushed)" : "lmdb (sync commit)",
    async apply(puts) {
      const applied = await db.transaction(() =>
        puts.map((p) => {
          const ok = newer(p.value, db.getBinary(p.key));
          if (ok) void db.put(p.key, p.value);
          return ok;
        }),
      );
      if (overlappingSync) await db.flushed;
      return applied;
    },
    get: (key) => db.getBinary(key),
    range(start, end, limit) {
      let bytes = 0;
      for (const { value } of db.getRange({ start, end, limit })) bytes += (value as Buffer).length;
      return bytes;
    },
    close: () => db.close(),
  };
}

const SCHEMA = "CREATE TABLE IF NOT EXISTS records (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID";

function openSqliteDb(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  // FULL: the WAL is fsynced at every commit (NORMAL would not be durable at the answer).
  db.exec("PRAGMA synchronous = FULL");
  db.exec(SCHEMA);
  return db;
}

/** What both sqlite variants share: reads on the main thread's connection. */
function sqliteReads(db: DatabaseSync) {
  const getStmt = db.prepare("SELECT v FROM records WHERE k = ?");
  const rangeStmt = db.prepare("SELECT v FROM records WHERE k >= ? AND k < ? ORDER BY k LIMIT ?");
  return {
    get(key: Buffer): Buffer | undefined {
      const row = getStmt.get(key) as { v: Uint8Array } | undefined;
      return row && Buffer.from(row.v.buffer, row.v.byteOffset, row.v.byteLength);
    },
    range(start: Buffer, end: Buffer, limit: number): number {
      let bytes = 0;
      for (const row of rangeStmt.iterate(start, end, limit) as Iterable<{ v: Uint8Array }>)
        bytes += row.v.byteLength;
      return bytes;
    },
  };
}

/**
 * node:sqlite on the main thread: the applies of one event-loop turn go into one transaction,
 * committed (and fsynced) at setImmediate, which blocks the loop for the fsync.
 */
export function openSqliteMain(dir: string): BenchEngine {
  const db = openSqliteDb(join(dir, "tables.sqlite"));
  const getStmt = db.prepare("SELECT v FROM records WHERE k = ?");
  const putStmt = db.prepare("INSERT OR REPLACE INTO records (k, v) VALUES (?, ?)");
  let queue: { puts: readonly Put[]; done: (r: boolean[]) => void; fail: (e: unknown) => void }[] = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    const results: boolean[][] = [];
    try {
      db.exec("BEGIN");
      for (const item of batch) {
        results.push(
          item.puts.map((p) => {
            const row = getStmt.get(p.key) as { v: Uint8Array } | undefined;
            const ok = newer(p.value, row && Buffer.from(row.v));
            if (ok) putStmt.run(p.key, p.value);
            return ok;
          }),
        );
      }
      db.exec("COMMIT");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      for (const item of batch) item.fail(err);
      return;
    }
    batch.forEach((item, i) => {
      item.done(results[i]!);
    });
  };
  return {
    name: "node:sqlite (main thread, batch per turn)",
    apply(puts) {
      return new Promise((done, fail) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ puts, done, fail });
      });
    },
    ...sqliteReads(db),
    close: async () => db.close(),
  };
}

/**
 * node:sqlite with a writer thread: the main thread sends the applies of each turn to a worker
 * holding the writing connection (one transaction and fsync per batch it takes), and reads on its
 * own connection (WAL: readers see each commit once it is done).
 */
export async function openSqliteWorker(dir: string): Promise<BenchEngine> {
  const path = join(dir, "tables.sqlite");
  openSqliteDb(path).close();
  const worker = new Worker(new URL("./sqlite-writer.ts", import.meta.url), { workerData: { path } });
  await once(worker, "online");
  const db = openSqliteDb(path);
  const waiting = new Map<number, (r: boolean[]) => void>();
  let nextId = 1;
  let outbox: { id: number; puts: { key: Uint8Array; value: Uint8Array }[] }[] = [];
  worker.on("message", (answers: { id: number; applied: boolean[] }[]) => {
    for (const a of answers) {
      waiting.get(a.id)?.(a.applied);
      waiting.delete(a.id);
    }
  });
  return {
    name: "node:sqlite (writer thread)",
    apply(puts) {
      return new Promise((done) => {
        const id = nextId++;
        waiting.set(id, done);
        if (outbox.length === 0)
          setImmediate(() => {
            worker.postMessage(outbox);
            outbox = [];
          });
        outbox.push({ id, puts: puts.map((p) => ({ key: p.key, value: p.value })) });
      });
    },
    ...sqliteReads(db),
    async close() {
      db.close();
      await worker.terminate();
    },
  };
}
