import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type ErrorCode, isDfsError } from "../src/errors.ts";
import type { TableRecord } from "../src/formats/index.ts";
import {
  Limits,
  TableReadReq,
  TableReadRes,
  TableWriteReq,
  TableWriteRes,
  tableEntryBytes,
  tableRecordBytes,
} from "../src/protocol/index.ts";

const hex = (s: string) => Buffer.from(s.replaceAll(" ", ""), "hex");

const RECORD: TableRecord = {
  table: "t",
  partitionKey: Buffer.from("pk"),
  sortKey: Buffer.from("sk"),
  version: { hlc: 0x0102030405060708n, writer: "w" },
  deleted: false,
  value: Buffer.from("v"),
};

function rejectsWith(code: ErrorCode, body: () => unknown): void {
  assert.throws(body, (e: unknown) => isDfsError(e, code), `expected ${code}`);
}

describe("TABLE_WRITE and TABLE_READ bodies (golden vectors)", () => {
  test("a TABLE_WRITE of one record, byte for byte", () => {
    const body = TableWriteReq.encode([RECORD]);
    //              count  table    pk          sk          hlc                writer flags value
    const golden = hex("0001 0174 0002706b 0002736b 0102030405060708 0177 00 0000000176");
    assert.deepEqual(body, golden);
    assert.equal(tableRecordBytes(RECORD), golden.length - 2);
    assert.deepEqual(TableWriteReq.decode(golden), [RECORD]);
  });

  test("a deletion: flag bit 0, no value", () => {
    const del = { ...RECORD, deleted: true, value: Buffer.alloc(0) };
    assert.deepEqual(
      TableWriteReq.encode([del]),
      hex("0001 0174 0002706b 0002736b 0102030405060708 0177 01 00000000"),
    );
  });

  test("a TABLE_WRITE answer: applied, or stale with the version held", () => {
    const answers = [
      { applied: true as const },
      { applied: false as const, held: { hlc: 0xffn, writer: "ab" } },
    ];
    const golden = hex("0002 00 01 00000000000000ff 02 6162");
    assert.deepEqual(TableWriteRes.encode(answers), golden);
    assert.deepEqual(TableWriteRes.decode(golden), answers);
  });

  test("a point read and a range read", () => {
    const point = {
      mode: "point" as const,
      table: "t",
      partitionKey: Buffer.from("pk"),
      sortKey: Buffer.from("sk"),
    };
    const pointGolden = hex("0174 0002706b 00 0002736b");
    assert.deepEqual(TableReadReq.encode(point), pointGolden);
    assert.deepEqual(TableReadReq.decode(pointGolden), point);
    const range = {
      mode: "range" as const,
      table: "t",
      partitionKey: Buffer.from("pk"),
      after: Buffer.from("a"),
      from: undefined,
      prefix: Buffer.from("p"),
      limit: 1000,
      includeDeleted: true,
    };
    //                       table pk     mode start=after  prefix     limit flags
    const rangeGolden = hex("0174 0002706b 01 01 000161 01 000170 03e8 01");
    assert.deepEqual(TableReadReq.encode(range), rangeGolden);
    assert.deepEqual(TableReadReq.decode(rangeGolden), range);
    const fromNothing = {
      ...range,
      after: undefined,
      from: Buffer.from("f"),
      prefix: undefined,
      includeDeleted: false,
    };
    assert.deepEqual(TableReadReq.decode(TableReadReq.encode(fromNothing)), fromNothing);
  });

  test("a TABLE_READ answer: entries of the request's (table, partition key), and the cursor", () => {
    const entry = { sortKey: RECORD.sortKey, version: RECORD.version, deleted: false, value: RECORD.value };
    const golden = hex("0001 0002736b 0102030405060708 0177 00 0000000176 01 0002736b");
    assert.deepEqual(TableReadRes.encode({ entries: [entry], next: Buffer.from("sk") }), golden);
    assert.deepEqual(TableReadRes.decode(golden), { entries: [entry], next: Buffer.from("sk") });
    assert.deepEqual(TableReadRes.decode(hex("0000 00")), { entries: [] });
    assert.equal(tableEntryBytes(entry), golden.length - 2 - 1 - 4);
  });

  test("records round-trip whatever their bytes", () => {
    const arb = fc.record({
      table: fc.stringMatching(/^[a-z0-9_-]{1,64}$/),
      partitionKey: fc.uint8Array({ minLength: 1, maxLength: 256 }),
      sortKey: fc.uint8Array({ maxLength: 1024 }),
      hlc: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      writer: fc.string({ minLength: 1, maxLength: 60 }),
      deleted: fc.boolean(),
      value: fc.uint8Array({ maxLength: 512 }),
    });
    fc.assert(
      fc.property(fc.array(arb, { maxLength: 5 }), (xs) => {
        const records: TableRecord[] = xs.map((x) => ({
          table: x.table,
          partitionKey: Buffer.from(x.partitionKey),
          sortKey: Buffer.from(x.sortKey),
          version: { hlc: x.hlc, writer: x.writer },
          deleted: x.deleted,
          value: x.deleted ? Buffer.alloc(0) : Buffer.from(x.value),
        }));
        assert.deepEqual(TableWriteReq.decode(TableWriteReq.encode(records)), records);
      }),
    );
  });
});

describe("TABLE_WRITE and TABLE_READ bodies: bounds before bytes", () => {
  test("a value over 32 KiB is DFS_ERR_TOO_LARGE on its length field alone", () => {
    // The length says 32 KiB + 1; the bytes are not even there.
    rejectsWith("DFS_ERR_TOO_LARGE", () =>
      TableWriteReq.decode(hex("0001 0174 0002706b 0002736b 0102030405060708 0177 00 00008001")),
    );
  });

  test("a bad table name, an empty partition key, a long sort key, an empty writer, unknown flags: DFS_ERR_INVALID_RECORD", () => {
    rejectsWith("DFS_ERR_INVALID_RECORD", () =>
      TableWriteReq.decode(TableWriteReq.encode([{ ...RECORD, table: "T" }])),
    );
    rejectsWith("DFS_ERR_INVALID_RECORD", () => TableWriteReq.decode(hex("0001 41 74")));
    rejectsWith("DFS_ERR_INVALID_RECORD", () => TableWriteReq.decode(hex("0001 0174 0000")));
    rejectsWith("DFS_ERR_INVALID_RECORD", () => TableWriteReq.decode(hex("0001 0174 0002706b 0401")));
    rejectsWith("DFS_ERR_INVALID_RECORD", () =>
      TableWriteReq.decode(hex("0001 0174 0002706b 0002736b 0102030405060708 00")),
    );
    rejectsWith("DFS_ERR_INVALID_RECORD", () =>
      TableWriteReq.decode(hex("0001 0174 0002706b 0002736b 0102030405060708 0177 02 00000000")),
    );
    rejectsWith("DFS_ERR_INVALID_RECORD", () =>
      TableWriteReq.decode(hex("0001 0174 0002706b 0002736b 0102030405060708 0177 01 0000000176")),
    );
  });

  test("bodies that end early, run on, or count too many are DFS_ERR_PROTOCOL", () => {
    const whole = TableWriteReq.encode([RECORD]);
    rejectsWith("DFS_ERR_PROTOCOL", () => TableWriteReq.decode(whole.subarray(0, whole.length - 1)));
    rejectsWith("DFS_ERR_PROTOCOL", () => TableWriteReq.decode(Buffer.concat([whole, hex("00")])));
    rejectsWith("DFS_ERR_PROTOCOL", () =>
      TableWriteReq.decode(hex((Limits.MAX_TABLE_BATCH + 1).toString(16).padStart(4, "0"))),
    );
    rejectsWith("DFS_ERR_PROTOCOL", () => TableReadReq.decode(hex("0174 0002706b 07")));
    rejectsWith("DFS_ERR_PROTOCOL", () => TableWriteRes.decode(hex("0001 05")));
  });

  test("a range read's limit is 1..1000", () => {
    rejectsWith("DFS_ERR_BAD_REQUEST", () => TableReadReq.decode(hex("0174 0002706b 01 00 00 0000 00")));
    rejectsWith("DFS_ERR_BAD_REQUEST", () => TableReadReq.decode(hex("0174 0002706b 01 00 00 03e9 00")));
  });
});
