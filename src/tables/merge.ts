import { compareRecords, type TableRecord } from "../formats/index.ts";
import type { TableEntry } from "../protocol/index.ts";

/** One owner's answer to a range read. */
export interface OwnerPage {
  addr: string;
  entries: readonly TableEntry[];
  /** Set when the owner has records after its last entry. */
  next?: Buffer | undefined;
}

export interface MergedPages {
  /** The newest record of every sort key the pages cover, in sort-key order, tombstones included. */
  newest: TableRecord[];
  /**
   * Where the span every page covers ends (the next read starts after it); undefined when every
   * page reached the end of the range. An owner whose page was cut covers only up to its cut.
   */
  coveredTo: Buffer | undefined;
  /** Per owner, the newest records it lacks or holds older, within the covered span: read-repair. */
  stale: Map<string, TableRecord[]>;
}

/**
 * Merges owners' pages of one (table, partition key) newest-wins (compareRecords). Only records
 * up to the smallest cut are kept: past it, an owner that was cut may hold a newer version that
 * its page did not carry.
 */
export function mergePages(table: string, partitionKey: Buffer, pages: readonly OwnerPage[]): MergedPages {
  let coveredTo: Buffer | undefined;
  for (const p of pages) {
    if (p.next !== undefined && (coveredTo === undefined || Buffer.compare(p.next, coveredTo) < 0))
      coveredTo = p.next;
  }
  const within = (sortKey: Buffer) => coveredTo === undefined || Buffer.compare(sortKey, coveredTo) <= 0;
  const byKey = new Map<string, { newest: TableRecord; holders: Map<string, TableRecord> }>();
  for (const page of pages) {
    for (const e of page.entries) {
      if (!within(e.sortKey)) continue;
      const record: TableRecord = { table, partitionKey, ...e };
      const key = e.sortKey.toString("hex");
      const slot = byKey.get(key);
      if (slot === undefined) byKey.set(key, { newest: record, holders: new Map([[page.addr, record]]) });
      else {
        slot.holders.set(page.addr, record);
        if (compareRecords(record, slot.newest) > 0) slot.newest = record;
      }
    }
  }
  const slots = [...byKey.values()].sort((a, b) => Buffer.compare(a.newest.sortKey, b.newest.sortKey));
  const stale = new Map<string, TableRecord[]>();
  for (const { newest, holders } of slots) {
    for (const page of pages) {
      const held = holders.get(page.addr);
      if (held !== undefined && compareRecords(held, newest) >= 0) continue;
      const list = stale.get(page.addr);
      if (list === undefined) stale.set(page.addr, [newest]);
      else list.push(newest);
    }
  }
  return { newest: slots.map((s) => s.newest), coveredTo, stale };
}
