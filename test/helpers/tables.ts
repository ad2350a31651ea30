import { HybridClock, type TableRecord } from "../../src/formats/index.ts";
import { TableClient, type TableClientOptions } from "../../src/tables/index.ts";
import type { NodeClient } from "../../src/transport/index.ts";

/**
 * A quorum client over fixed owners (R = 3, W = 2) for tests: `order` is the owners' addresses in
 * the order reads ask them (every test cluster has exactly R nodes, so all are owners).
 */
export function tableClient(
  nodes: NodeClient,
  order: () => readonly string[],
  options: Partial<TableClientOptions> = {},
): TableClient {
  return new TableClient({
    nodes,
    order,
    replicas: 3,
    writeQuorum: 2,
    clock: new HybridClock(),
    writer: "test-writer",
    hedgeMs: 100,
    ...options,
  });
}

/** The record `addr` holds under a key, tombstone included, asked directly (no quorum). */
export async function heldBy(
  nodes: NodeClient,
  addr: string,
  table: string,
  partitionKey: Buffer,
  sortKey: Buffer,
): Promise<TableRecord | undefined> {
  const got = await nodes.tableRead(addr, { mode: "point", table, partitionKey, sortKey });
  const e = got.entries[0];
  return e && { table, partitionKey, ...e };
}

/** A record to write directly to nodes (not through a quorum client). */
export function stamped(
  table: string,
  partitionKey: string,
  sortKey: string,
  hlc: bigint,
  options: { writer?: string; value?: string; deleted?: boolean } = {},
): TableRecord {
  const deleted = options.deleted ?? false;
  return {
    table,
    partitionKey: Buffer.from(partitionKey),
    sortKey: Buffer.from(sortKey),
    version: { hlc, writer: options.writer ?? "test-writer" },
    deleted,
    value: deleted ? Buffer.alloc(0) : Buffer.from(options.value ?? `${sortKey}@${hlc}`),
  };
}

/** Bytes equality of two records (or both absent). */
export function sameRecord(a: TableRecord | undefined, b: TableRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.table === b.table &&
    a.partitionKey.equals(b.partitionKey) &&
    a.sortKey.equals(b.sortKey) &&
    a.version.hlc === b.version.hlc &&
    a.version.writer === b.version.writer &&
    a.deleted === b.deleted &&
    a.value.equals(b.value)
  );
}
