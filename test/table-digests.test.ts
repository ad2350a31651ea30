import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { HybridClock, type TableRecord } from "../src/formats/index.ts";
import { ElementIndex, PartitionSet, recordsOf, tableElement, trackTables } from "../src/node/sync/index.ts";
import { TableStore } from "../src/node/tables/index.ts";
import { stamped } from "./helpers/tables.ts";
import { makeTempDir } from "./helpers/tmp.ts";

let dir: { path: string; remove: () => Promise<void> };
let wall = 10_000_000;
const clock = new HybridClock({ wallMs: () => wall, maxAheadMs: 60_000 });
const all = new PartitionSet(new Uint8Array(PartitionSet.BYTES).fill(0xff));
const open = (name: string) => TableStore.open({ path: join(dir.path, name), clock });

before(async () => {
  dir = await makeTempDir();
});
after(() => dir.remove());

test("a record's element: its key decides the id, its version and deletion the hash", () => {
  const a = stamped("objects", "b", "k", 5n);
  const id = tableElement(a);
  assert.equal(tableElement(stamped("objects", "b", "k", 5n, { value: "other" })).hash.equals(id.hash), true);
  assert.equal(tableElement(stamped("objects", "b", "k", 6n)).id, id.id);
  assert.equal(tableElement(stamped("objects", "b", "k", 6n)).hash.equals(id.hash), false);
  assert.equal(tableElement(stamped("objects", "b", "k", 5n, { writer: "x" })).hash.equals(id.hash), false);
  assert.equal(tableElement(stamped("objects", "b", "k", 5n, { deleted: true })).hash.equals(id.hash), false);
  assert.notEqual(tableElement(stamped("objects", "b", "k2", 5n)).id, id.id);
  assert.notEqual(tableElement(stamped("objects", "bk", "", 5n)).id, id.id, "key parts are length-prefixed");
});

test("digests built at open equal digests kept from changes; a purge takes tombstones out", async () => {
  const live = await open("live.mdb");
  const kept = new ElementIndex({ hashIsId: false });
  const stop = trackTables(live, kept);
  const records: TableRecord[] = [];
  for (let i = 0; i < 50; i++) records.push(stamped("objects", `b${i % 5}`, `k${i}`, BigInt(wall) << 16n));
  await live.apply(records);
  wall += 1000;
  const deletion = stamped("objects", "b0", "k0", BigInt(wall) << 16n, { deleted: true });
  const newer = stamped("objects", "b1", "k1", BigInt(wall) << 16n, { value: "newer" });
  await live.apply([deletion, newer]);
  assert.equal(kept.size, 50);

  // Another store given the same records in another order, built by the walk at its start.
  const other = await open("other.mdb");
  await other.apply([newer, deletion, ...records.reverse()]);
  const built = new ElementIndex({ hashIsId: false });
  trackTables(other, built);
  assert.ok(built.tree.digestOver(all).equals(kept.tree.digestOver(all)), "same records, same root");

  // A store lacking the deletion differs, in the deleted record's partition only.
  const stale = await open("stale.mdb");
  await stale.apply(records);
  const staleIndex = new ElementIndex({ hashIsId: false });
  trackTables(stale, staleIndex);
  assert.equal(staleIndex.size, 50, "one element per key");
  assert.ok(!staleIndex.tree.digestOver(all).equals(kept.tree.digestOver(all)));
  const deletionId = tableElement(deletion).id;
  const p = Number.parseInt(deletionId.slice(0, 4), 16);
  const ours = recordsOf(live, p, new Set([deletionId]));
  assert.equal(ours.length, 1);
  assert.equal(ours[0]!.deleted, true, "the differing record looked up by its id is the deletion");

  wall += 10_000;
  assert.equal(await live.purgeTombstones(5_000), 1);
  assert.equal(kept.size, 49, "the purged tombstone left the tree");
  stop();
  for (const s of [live, other, stale]) await s.close();
});
