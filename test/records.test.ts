import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isDfsError } from "../src/errors.ts";
import {
  checkRecord,
  compareRecords,
  HybridClock,
  hlcLogical,
  hlcMs,
  hlcOf,
  newestOf,
  RecordLimits,
  supersedes,
  type TableRecord,
  tableSchema,
} from "../src/formats/index.ts";
import { Placement, recordPartition, recordPlacementId } from "../src/placement/index.ts";

function rec(hlc: bigint, writer: string, extra: Partial<TableRecord> = {}): TableRecord {
  return {
    table: "t",
    partitionKey: Buffer.from("pk"),
    sortKey: Buffer.from("sk"),
    version: { hlc, writer },
    deleted: false,
    value: Buffer.from("v"),
    ...extra,
  };
}

describe("HybridClock (controlled wall clock)", () => {
  test("readings follow the wall clock and never go backwards", () => {
    let wall = 1_000;
    const clock = new HybridClock({ wallMs: () => wall });
    const a = clock.now();
    assert.equal(hlcMs(a), 1_000);
    assert.equal(hlcLogical(a), 0);
    const b = clock.now();
    assert.equal(hlcMs(b), 1_000);
    assert.equal(hlcLogical(b), 1);
    wall = 500; // the wall clock stepped back
    const c = clock.now();
    assert.ok(c > b);
    assert.equal(hlcMs(c), 1_000);
    wall = 2_000;
    assert.equal(clock.now(), hlcOf(2_000));
  });

  test("a counter overflow carries into the milliseconds", () => {
    const clock = new HybridClock({ wallMs: () => 7 });
    clock.observe(hlcOf(7, 65535));
    const next = clock.now();
    assert.equal(hlcMs(next), 8);
    assert.equal(hlcLogical(next), 0);
  });

  test("readings come after versions it observed, from a writer whose clock is ahead", () => {
    const clock = new HybridClock({ wallMs: () => 1_000 });
    assert.equal(clock.observe(hlcOf(60_000, 3)), true);
    const next = clock.now();
    assert.equal(next, hlcOf(60_000, 4));
    // An older observation changes nothing.
    clock.observe(hlcOf(10));
    assert.ok(clock.now() > next);
  });

  test("a reading further ahead than maxAheadMs is not taken in", () => {
    const clock = new HybridClock({ wallMs: () => 1_000, maxAheadMs: 100 });
    assert.equal(clock.observe(hlcOf(1_101)), false);
    assert.equal(clock.isTooFarAhead(hlcOf(1_101)), true);
    assert.equal(clock.now(), hlcOf(1_000));
    assert.equal(clock.observe(hlcOf(1_100)), true);
    assert.equal(clock.now(), hlcOf(1_100, 1));
  });
});

describe("merge order", () => {
  test("the higher clock reading wins, then the writer id; a deletion is a version", () => {
    assert.ok(compareRecords(rec(2n, "a"), rec(1n, "z")) > 0);
    assert.ok(compareRecords(rec(1n, "b"), rec(1n, "a")) > 0);
    const del = rec(3n, "a", { deleted: true, value: Buffer.alloc(0) });
    assert.equal(newestOf(rec(2n, "z"), del), del);
    assert.equal(newestOf(del, rec(4n, "a")).deleted, false);
  });

  test("exact ties of versions: a deletion wins, then the greater value", () => {
    const del = rec(5n, "w", { deleted: true, value: Buffer.alloc(0) });
    assert.ok(compareRecords(del, rec(5n, "w")) > 0);
    assert.ok(
      compareRecords(rec(5n, "w", { value: Buffer.from("b") }), rec(5n, "w", { value: Buffer.from("a") })) >
        0,
    );
    assert.equal(compareRecords(rec(5n, "w"), rec(5n, "w")), 0);
    assert.equal(supersedes(rec(5n, "w"), rec(5n, "w")), false);
    assert.equal(supersedes(rec(5n, "w"), undefined), true);
  });

  test("writer ids compare by their UTF-8 bytes", () => {
    // U+FF5E sorts below U+1F600 in UTF-8, above it in UTF-16 code units.
    assert.ok(compareRecords(rec(1n, "\u{1F600}"), rec(1n, "\uFF5E")) > 0);
  });

  test("any order of arrival gives the same winner (a total order)", () => {
    const arb = fc.record({
      hlc: fc.bigInt({ min: 0n, max: 4n }),
      writer: fc.constantFrom("a", "b", "\u00e9"),
      deleted: fc.boolean(),
      value: fc.uint8Array({ maxLength: 2 }),
    });
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 8 }), (xs) => {
        const records = xs.map((x) =>
          rec(x.hlc, x.writer, {
            deleted: x.deleted,
            value: x.deleted ? Buffer.alloc(0) : Buffer.from(x.value),
          }),
        );
        const forward = records.reduce(newestOf);
        const backward = [...records].reverse().reduce(newestOf);
        const sorted = [...records].sort(compareRecords).at(-1)!;
        assert.equal(compareRecords(forward, backward), 0);
        assert.equal(compareRecords(forward, sorted), 0);
      }),
    );
  });
});

describe("record bounds", () => {
  const code = (r: TableRecord) => {
    try {
      checkRecord(r);
      return "ok";
    } catch (err) {
      assert.ok(isDfsError(err));
      return err.code;
    }
  };
  test("table names, keys, writers and values out of bounds get their codes", () => {
    assert.equal(code(rec(1n, "w")), "ok");
    assert.equal(code(rec(1n, "w", { table: "Users" })), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n, "w", { table: "a".repeat(65) })), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n, "w", { table: "" })), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n, "w", { partitionKey: Buffer.alloc(0) })), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n, "w", { partitionKey: Buffer.alloc(257) })), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n, "w", { sortKey: Buffer.alloc(1025) })), "DFS_ERR_INVALID_RECORD");
    assert.equal(
      code(rec(1n, "w", { value: Buffer.alloc(RecordLimits.MAX_VALUE + 1) })),
      "DFS_ERR_TOO_LARGE",
    );
    assert.equal(code(rec(1n, "")), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n, "w", { deleted: true })), "DFS_ERR_INVALID_RECORD");
    assert.equal(code(rec(1n << 64n, "w")), "DFS_ERR_INVALID_RECORD");
  });
});

describe("record placement", () => {
  test("a hashed table's placement id is SHA-256 over the label and the length-prefixed fields", () => {
    const expected = createHash("sha256")
      .update(Buffer.from("dfs-mesh/table-placement/v1\0"))
      .update(Buffer.from([5]))
      .update("users")
      .update(Buffer.from([0, 3]))
      .update("abc")
      .digest("hex");
    assert.equal(recordPlacementId("users", Buffer.from("abc")), expected);
    // Pinned: every process must compute the same placement, so this may never change.
    assert.equal(expected, "daf09d832294be6781e931864b011e30705874a679a3a68c128261516b4b0642");
    // Length prefixes keep (table "ab", key "c") apart from (table "a", key "bc").
    assert.notEqual(recordPlacementId("ab", Buffer.from("c")), recordPlacementId("a", Buffer.from("bc")));
  });

  test("a table whose partition key is an object id is placed with that object", () => {
    assert.equal(tableSchema("chunk_refs").partitionKeyIsObjectId, true);
    assert.equal(tableSchema("constructor").partitionKeyIsObjectId, false);
    const chunk = "ab".repeat(32);
    const id = recordPlacementId("chunk_refs", Buffer.from(chunk, "hex"));
    assert.equal(id, chunk);
    const nodes = ["n1", "n2", "n3", "n4"].map((n) => ({
      id: n,
      addr: `${n}:1`,
      zone: "z",
      capacityBytes: 1,
    }));
    const placement = new Placement(nodes);
    assert.deepEqual(placement.owners(id, 3), placement.owners(chunk, 3));
    assert.equal(recordPartition(id), placement.partitionOf(chunk));
    assert.throws(
      () => recordPlacementId("chunk_refs", Buffer.from("short")),
      (e: unknown) => isDfsError(e, "DFS_ERR_INVALID_RECORD"),
    );
  });
});
