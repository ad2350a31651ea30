/**
 * bench/table-engine.ts's sqlite writer thread: takes batches of applies from the main thread,
 * runs every batch that arrived by then in one transaction (one fsync), answers each.
 */
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

interface Apply {
  id: number;
  puts: { key: Uint8Array; value: Uint8Array }[];
}

const db = new DatabaseSync((workerData as { path: string }).path);
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = FULL");
const getStmt = db.prepare("SELECT v FROM records WHERE k = ?");
const putStmt = db.prepare("INSERT OR REPLACE INTO records (k, v) VALUES (?, ?)");

let queue: Apply[] = [];

function newer(incoming: Uint8Array, held: Uint8Array | undefined): boolean {
  return held === undefined || Buffer.compare(incoming.subarray(0, 8), held.subarray(0, 8)) > 0;
}

function flush(): void {
  const batch = queue;
  queue = [];
  db.exec("BEGIN");
  const answers = batch.map((a) => ({
    id: a.id,
    applied: a.puts.map((p) => {
      const row = getStmt.get(p.key) as { v: Uint8Array } | undefined;
      const ok = newer(p.value, row?.v);
      if (ok) putStmt.run(p.key, p.value);
      return ok;
    }),
  }));
  db.exec("COMMIT");
  parentPort!.postMessage(answers);
}

parentPort!.on("message", (applies: Apply[]) => {
  if (queue.length === 0) setImmediate(flush);
  queue.push(...applies);
});
