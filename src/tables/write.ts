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

/** A record and the owners it must reach. */
export interface OwnedRecord {
  record: TableRecord;
  owners: readonly string[];
}

/**
 * Writes each record to its owners, one stream of TABLE_WRITE batches per node whatever the
 * number of records (the references of a 64 GiB upload's 65,536 chunks are a few dozen batches
 * per node, not a request per record). Resolves once `quorum` owners of every record answered for
 * it; the rest goes on in the background, a failure there going to `onLate`. Rejects once some
 * record can no longer reach `quorum` owners: with the records' own error when the owners refused
 * them (DFS_ERR_INVALID_RECORD, ...), else DFS_ERR_INSUFFICIENT_REPLICAS. Records an owner holds
 * when this rejects stay there (newest-wins: a retry is harmless).
 */
export function quorumWrite(
  nodes: TableNodeApi,
  owned: readonly OwnedRecord[],
  quorum: number,
  hooks: { onHeld?: (held: Version) => void; onLate: (err: DfsError, addr: string) => void },
): Promise<void> {
  const perNode = new Map<string, number[]>();
  owned.forEach((o, i) => {
    for (const addr of o.owners) {
      const list = perNode.get(addr);
      if (list === undefined) perNode.set(addr, [i]);
      else list.push(i);
    }
  });
  return new Promise((resolve, reject) => {
    const stored = new Uint16Array(owned.length);
    const failed = new Uint16Array(owned.length);
    let done = 0;
    let settled = false;
    const errors: DfsError[] = [];
    const refuse = (i: number) => {
      settled = true;
      const own = errors.find((e) => REQUEST_ERRORS.has(e.code));
      if (own) return reject(own);
      reject(
        new DfsError(
          "DFS_ERR_INSUFFICIENT_REPLICAS",
          `${stored[i]} of ${owned[i]!.owners.length} owners stored a record, ${quorum} needed`,
          { cause: errors[0], details: { failures: errors.map((e) => e.code) } },
        ),
      );
    };
    const short = owned.findIndex((o) => o.owners.length < quorum);
    if (short >= 0) return refuse(short);
    if (owned.length === 0) return resolve();
    for (const [addr, indices] of perNode) {
      const batches = writeBatches(indices.map((i) => owned[i]!.record));
      let at = 0; // indices answered so far, in batch order
      const send = async () => {
        for (const batch of batches) {
          const answers = await nodes.tableWrite(addr, batch);
          if (hooks.onHeld) for (const a of answers) if (!a.applied) hooks.onHeld(a.held);
          for (let k = 0; k < batch.length; k++) {
            const i = indices[at++]!;
            stored[i]!++;
            if (stored[i] === quorum) done++;
          }
          if (!settled && done === owned.length) {
            settled = true;
            resolve();
          }
        }
      };
      send().catch((err: unknown) => {
        const e = toDfsError(err);
        errors.push(e);
        if (settled) return hooks.onLate(e, addr);
        for (; at < indices.length; at++) {
          const i = indices[at]!;
          failed[i]!++;
          if (owned[i]!.owners.length - failed[i]! < quorum) return refuse(i);
        }
      });
    }
  });
}
