import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { HybridClock, hlcOf, type TableRecord } from "../src/formats/index.ts";
import { type TableChange, TableStore } from "../src/node/tables/index.ts";
import { recordPartition, recordPlacementId } from "../src/placement/index.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const PK = Buffer.from("bucket-1");

function rec(
  sortKey: string,
  hlc: bigint,
  options: { writer?: string; deleted?: boolean; value?: string } = {},
) {
  const deleted = options.deleted ?? false;
  return {
    table: "objects",
    partitionKey: PK,
    sortKey: Buffer.from(sortKey),
    version: { hlc, writer: options.writer ?? "w1" },
    deleted,
    value: deleted ? Buffer.alloc(0) : Buffer.from(options.value ?? `value of ${sortKey}`),
  } satisfies TableRecord;
}

const keysOf = (records: readonly TableRecord[]) => records.map((r) => r.sortKey.toString());

describe("TableStore (LMDB on a real disk, controlled clock)", () => {
  let dir: { path: string; remove: () => Promise<void> };
  let wall = 1_000_000;
  const clock = new HybridClock({ wallMs: () => wall, maxAheadMs: 60_000 });
  let store: TableStore;
  const path = () => join(dir.path, "tables.mdb");

  before(async () => {
    dir = await makeTempDir();
    store = await TableStore.open({ path: path(), clock });
  });
  after(async () => {
    await store.close();
    await dir.remove();
  });

  test("newest wins: a newer version is applied, an equal or older one is stale with the version held", async () => {
    assert.deepEqual(await store.apply([rec("a", hlcOf(10))]), [{ applied: true }]);
    assert.deepEqual(await store.apply([rec("a", hlcOf(10))]), [
      { applied: false, held: { hlc: hlcOf(10), writer: "w1" } },
    ]);
    assert.deepEqual(await store.apply([rec("a", hlcOf(9), { writer: "zz" })]), [
      { applied: false, held: { hlc: hlcOf(10), writer: "w1" } },
    ]);
    assert.deepEqual(await store.apply([rec("a", hlcOf(10), { writer: "w2", value: "second" })]), [
      { applied: true },
    ]);
    assert.equal(store.get("objects", PK, Buffer.from("a"))?.value.toString(), "second");
    assert.equal(store.get("objects", PK, Buffer.from("nothing")), undefined);
  });

  test("a deletion beats an older write, stays as a tombstone, and loses to a newer write", async () => {
    await store.apply([rec("d", hlcOf(20))]);
    assert.deepEqual(await store.apply([rec("d", hlcOf(21), { deleted: true })]), [{ applied: true }]);
    assert.deepEqual(await store.apply([rec("d", hlcOf(20, 5))]), [
      { applied: false, held: { hlc: hlcOf(21), writer: "w1" } },
    ]);
    const held = store.get("objects", PK, Buffer.from("d"));
    assert.equal(held?.deleted, true);
    assert.equal(held?.value.length, 0);
    await store.apply([rec("d", hlcOf(22), { value: "back" })]);
    assert.equal(store.get("objects", PK, Buffer.from("d"))?.value.toString(), "back");
  });

  test("versions of one key in one batch, or in concurrent batches, end with the newest whatever the order", async () => {
    const versions = [5, 3, 9, 1, 7].map((n) => rec("c", hlcOf(30 + n), { value: `v${n}` }));
    await store.apply(versions);
    assert.equal(store.get("objects", PK, Buffer.from("c"))?.value.toString(), "v9");
    const concurrent = [2, 8, 4].map((n) => rec("e", hlcOf(40 + n), { value: `v${n}` }));
    const answers = await Promise.all(concurrent.map((r) => store.apply([r])));
    assert.equal(store.get("objects", PK, Buffer.from("e"))?.value.toString(), "v8");
    assert.ok(answers.some(([a]) => a!.applied));
  });

  test("the clock observes applied versions; a version too far ahead fails the batch and stores nothing", async () => {
    const ahead = hlcOf(wall + 30_000, 7);
    await store.apply([rec("clock", ahead)]);
    assert.ok(clock.now() > ahead);
    await assert.rejects(
      store.apply([rec("skew-ok", hlcOf(wall)), rec("skew", hlcOf(wall + 61_000))]),
      (e: unknown) => isDfsError(e, "DFS_ERR_CLOCK_SKEW"),
    );
    assert.equal(store.get("objects", PK, Buffer.from("skew-ok")), undefined);
  });

  test("records out of bounds fail the batch with their code and store nothing", async () => {
    const bad = { ...rec("bad", hlcOf(50)), table: "No Such Table" };
    await assert.rejects(store.apply([rec("good", hlcOf(50)), bad]), (e: unknown) =>
      isDfsError(e, "DFS_ERR_INVALID_RECORD"),
    );
    assert.equal(store.get("objects", PK, Buffer.from("good")), undefined);
    const big = { ...rec("big", hlcOf(50)), value: Buffer.alloc(32 * 1024 + 1) };
    await assert.rejects(store.apply([big]), (e: unknown) => isDfsError(e, "DFS_ERR_TOO_LARGE"));
    const refs = { ...rec("x", hlcOf(50)), table: "chunk_refs", partitionKey: Buffer.from("not an id") };
    await assert.rejects(store.apply([refs]), (e: unknown) => isDfsError(e, "DFS_ERR_INVALID_RECORD"));
  });

  test("range: sort-key order, from, after, prefix, limit and pages give exactly the records, tombstones skipped", async () => {
    const pk = Buffer.from("range-bucket");
    const all = Array.from({ length: 1000 }, (_, i) => ({
      ...rec(`${i % 2 === 0 ? "even" : "odd"}/${String(i).padStart(4, "0")}`, hlcOf(60)),
      partitionKey: pk,
    }));
    await store.apply(all.slice(0, 500));
    await store.apply(all.slice(500));
    await store.apply([{ ...rec("even/0002", hlcOf(61), { deleted: true }), partitionKey: pk }]);
    const expectedEven = all
      .map((r) => r.sortKey.toString())
      .filter((k) => k.startsWith("even/") && k !== "even/0002")
      .sort();
    const paged: string[] = [];
    let after: Buffer | undefined;
    let pages = 0;
    do {
      const page = store.range("objects", pk, { prefix: Buffer.from("even/"), after, limit: 64 });
      paged.push(...keysOf(page.records));
      after = page.next;
      pages++;
    } while (after !== undefined);
    assert.deepEqual(paged, expectedEven);
    assert.equal(pages, Math.ceil(expectedEven.length / 64));
    const withTombstones = store.range("objects", pk, {
      from: Buffer.from("even/0002"),
      limit: 2,
      includeDeleted: true,
    });
    assert.deepEqual(keysOf(withTombstones.records), ["even/0002", "even/0004"]);
    assert.equal(withTombstones.records[0]!.deleted, true);
    assert.deepEqual(
      keysOf(store.range("objects", pk, { from: Buffer.from("odd/0997"), limit: 10 }).records),
      ["odd/0997", "odd/0999"],
    );
    assert.equal(store.range("objects", pk, { from: Buffer.from("odd/0999"), limit: 10 }).next, undefined);
    // A byte budget ends a page early, with a cursor that resumes exactly.
    const budget = store.range("objects", pk, { prefix: Buffer.from("odd/"), limit: 100, fits: () => false });
    assert.deepEqual(keysOf(budget.records), ["odd/0001"]);
    assert.deepEqual(keysOf(store.range("objects", pk, { after: budget.next, limit: 1 }).records), [
      "odd/0003",
    ]);
    // Another partition key's records never leak in.
    assert.deepEqual(store.range("objects", Buffer.from("range-bucke"), { limit: 10 }).records, []);
    assert.throws(
      () => store.range("objects", pk, { after: Buffer.from("a"), from: Buffer.from("b"), limit: 1 }),
      (e: unknown) => isDfsError(e, "DFS_ERR_BAD_REQUEST"),
    );
  });

  test("a placement partition's records, in key order, from a cursor", async () => {
    const pk = Buffer.from("partition-walk");
    const partition = recordPartition(recordPlacementId("objects", pk));
    await store.apply(["k1", "k2", "k3"].map((k) => ({ ...rec(k, hlcOf(70)), partitionKey: pk })));
    const mine = [...store.partitionRecords(partition)].filter((r) => r.partitionKey.equals(pk));
    assert.deepEqual(keysOf(mine), ["k1", "k2", "k3"]);
    const rest = [...store.partitionRecords(partition, mine[0]!)].filter((r) => r.partitionKey.equals(pk));
    assert.deepEqual(keysOf(rest), ["k2", "k3"]);
    for (const r of store.partitionRecords(partition))
      assert.equal(recordPartition(recordPlacementId(r.table, r.partitionKey)), partition);
  });

  test("change listeners hear every applied write once durable, with the version before; a throwing one harms nothing", async () => {
    const heard: TableChange[] = [];
    const stopThrowing = store.onChange(() => {
      throw new Error("listener bug");
    });
    const stop = store.onChange((c) => heard.push(c));
    await store.apply([rec("hook", hlcOf(80))]);
    await store.apply([rec("hook", hlcOf(79))]); // stale: no change
    await store.apply([rec("hook", hlcOf(81), { deleted: true })]);
    stop();
    stopThrowing();
    await store.apply([rec("hook", hlcOf(82))]);
    assert.equal(heard.length, 2);
    assert.equal(heard[0]!.previous, undefined);
    assert.equal(heard[0]!.next?.version.hlc, hlcOf(80));
    assert.equal(heard[1]!.previous?.version.hlc, hlcOf(80));
    assert.equal(heard[1]!.next?.deleted, true);
    assert.equal(heard[0]!.partition, recordPartition(recordPlacementId("objects", PK)));
  });

  test("tombstones older than the grace are purged (and reported); younger ones and live records stay", async () => {
    const pk = Buffer.from("purge");
    // Earlier tests' tombstones (stamped long before `wall`) go first.
    assert.equal(await store.purgeTombstones(0), 1);
    const at = (ms: number) => hlcOf(wall + ms);
    await store.apply([
      { ...rec("old", at(0), { deleted: true }), partitionKey: pk },
      { ...rec("young", at(5_000), { deleted: true }), partitionKey: pk },
      { ...rec("live", at(0)), partitionKey: pk },
      { ...rec("revived", at(0), { deleted: true }), partitionKey: pk },
    ]);
    await store.apply([{ ...rec("revived", at(1)), partitionKey: pk }]);
    const heard: TableChange[] = [];
    const stop = store.onChange((c) => heard.push(c));
    wall += 10_000;
    assert.equal(await store.purgeTombstones(7_000), 1);
    stop();
    const left = store.range("objects", pk, { limit: 10, includeDeleted: true });
    assert.deepEqual(keysOf(left.records), ["live", "revived", "young"]);
    assert.equal(heard.length, 1);
    assert.equal(heard[0]!.previous?.sortKey.toString(), "old");
    assert.equal(heard[0]!.next, undefined);
    wall += 10_000;
    assert.equal(await store.purgeTombstones(7_000), 1);
    assert.equal(await store.purgeTombstones(7_000), 0);
  });

  test("records survive closing and opening the engine again", async () => {
    await store.apply([rec("durable", hlcOf(90), { value: "kept" })]);
    await store.close();
    await assert.rejects(store.apply([rec("closed", hlcOf(91))]), (e: unknown) =>
      isDfsError(e, "DFS_ERR_SHUTTING_DOWN"),
    );
    store = await TableStore.open({ path: path(), clock });
    assert.equal(store.get("objects", PK, Buffer.from("durable"))?.value.toString(), "kept");
  });
});
