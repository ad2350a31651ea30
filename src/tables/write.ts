import { DfsError, type ErrorCode, toDfsError } from "../errors.ts";
import type { TableRecord, Version } from "../formats/index.ts";
import { Limits, TABLE_WRITE_BUDGET, tableRecordBytes } from "../protocol/index.ts";
import type { TableNodeApi } from "../transport/index.ts";

/** Failures every owner would answer alike: the records', not the owners'; passed on as they are. */
const REQUEST_ERRORS: ReadonlySet<ErrorCode> = new Set([
  "DFS_ERR_INVALID_RECORD",
  "DFS_ERR_TOO_LARGE",
  "DFS_ERR_CLOCK_SKEW",
  "DFS_ERR_BAD_REQUEST",
  "DFS_ERR_FORBIDDEN",
]);

/** Records cut into TABLE_WRITE bodies: each within the count limit and the 64 KiB body. */
export function writeBatches(records: readonly TableRecord[]): TableRecord[][] {
  const out: TableRecord[][] = [];
  let batch: TableRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const n = tableRecordBytes(r);
    if (batch.length > 0 && (bytes + n > TABLE_WRITE_BUDGET || batch.length >= Limits.MAX_TABLE_BATCH)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += n;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/**
 * Sends every batch to `addr` in turn; resolves once the node answered for all of them (each
 * record applied, or held at that version or newer: either way durable there). `onHeld` hears the
 * versions held where a record was not applied.
 */
export async function writeTo(
  nodes: TableNodeApi,
  addr: string,
  batches: readonly TableRecord[][],
  onHeld?: (held: Version) => void,
): Promise<void> {
  for (const batch of batches) {
    const answers = await nodes.tableWrite(addr, batch);
    if (onHeld) for (const a of answers) if (!a.applied) onHeld(a.held);
  }
}

/**
 * Writes `records` (of one placement id) to each of `owners` at once. Resolves once `quorum` of
 * them answered for every record; the others' writes go on in the background and a failure there
 * goes to `onLate`. Rejects once fewer than `quorum` can still answer: with the records' own error
 * when the owners refused them (DFS_ERR_INVALID_RECORD, ...), else DFS_ERR_INSUFFICIENT_REPLICAS.
 * Records an owner holds when this rejects stay there (newest-wins: a retry is harmless).
 */
export function quorumWrite(
  nodes: TableNodeApi,
  owners: readonly string[],
  records: readonly TableRecord[],
  quorum: number,
  hooks: { onHeld?: (held: Version) => void; onLate: (err: DfsError, addr: string) => void },
): Promise<void> {
  const batches = writeBatches(records);
  return new Promise((resolve, reject) => {
    let stored = 0;
    let failed = 0;
    let settled = false;
    const errors: DfsError[] = [];
    const refuse = () => {
      settled = true;
      const own = errors.find((e) => REQUEST_ERRORS.has(e.code));
      if (own) return reject(own);
      reject(
        new DfsError(
          "DFS_ERR_INSUFFICIENT_REPLICAS",
          `${stored} of ${owners.length} owners stored the records, ${quorum} needed`,
          { cause: errors[0], details: { failures: errors.map((e) => e.code) } },
        ),
      );
    };
    if (owners.length < quorum) return refuse();
    for (const addr of owners) {
      writeTo(nodes, addr, batches, hooks.onHeld).then(
        () => {
          stored++;
          if (!settled && stored >= quorum) {
            settled = true;
            resolve();
          }
        },
        (err: unknown) => {
          const e = toDfsError(err);
          failed++;
          errors.push(e);
          if (settled) hooks.onLate(e, addr);
          else if (owners.length - failed < quorum) refuse();
        },
      );
    }
  });
}
