import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CHUNK_REFS_TABLE,
  chunkFate,
  hlcOf,
  manifestRef,
  parseChunkRef,
  type TableRecord,
  uploadHold,
} from "../src/formats/index.ts";

const CHUNK = Buffer.alloc(32, 7);
const GRACE = 1000;

function record(at: number, kv: { sortKey: Buffer; value: Buffer }, deleted = false): TableRecord {
  return {
    table: CHUNK_REFS_TABLE,
    partitionKey: CHUNK,
    sortKey: kv.sortKey,
    version: { hlc: hlcOf(at), writer: "gw" },
    deleted,
    value: deleted ? Buffer.alloc(0) : kv.value,
  };
}
const hold = (at: number, leaseEnd: number) => record(at, uploadHold("aa".repeat(32), leaseEnd));
const ref = (at: number, version = "bb") => record(at, manifestRef(version.repeat(32), "cc".repeat(32)));
const retracted = (at: number, version = "bb") =>
  record(
    at,
    { sortKey: manifestRef(version.repeat(32), "cc".repeat(32)).sortKey, value: Buffer.alloc(0) },
    true,
  );

test("chunk_refs records read back as what they say", () => {
  assert.deepEqual(parseChunkRef(hold(1, 5000)), {
    kind: "upload",
    uploadId: "aa".repeat(32),
    leaseEndMs: 5000,
  });
  assert.deepEqual(parseChunkRef(ref(1)), {
    kind: "manifest",
    version: "bb".repeat(32),
    manifestId: "cc".repeat(32),
  });
  assert.equal(parseChunkRef({ ...ref(1), sortKey: Buffer.from([2, 1]) }), undefined);
});

test("a chunk's fate: kept while referenced, held or in its grace; collected after", () => {
  const now = 100_000;
  assert.deepEqual(chunkFate([], now, GRACE), { keep: true, reason: "no-records" });
  assert.deepEqual(chunkFate([ref(1)], now, GRACE), { keep: true, reason: "referenced" });
  assert.deepEqual(chunkFate([hold(1, now + 1)], now, GRACE), { keep: true, reason: "leased" });
  // A lapsed hold: the grace counts from the lease's end, not from when it was written.
  assert.deepEqual(chunkFate([hold(1, now - GRACE)], now, GRACE), { keep: true, reason: "grace" });
  assert.deepEqual(chunkFate([hold(1, now - GRACE - 1)], now, GRACE), { keep: false });
  // A retraction: the grace counts from its version's time.
  assert.deepEqual(chunkFate([retracted(now - 10)], now, GRACE), { keep: true, reason: "grace" });
  assert.deepEqual(chunkFate([retracted(now - GRACE - 1)], now, GRACE), { keep: false });
  // One file of two deleted: the other's reference keeps it, whatever order the records come in.
  assert.deepEqual(chunkFate([retracted(1), ref(2, "dd")], now, GRACE), { keep: true, reason: "referenced" });
  assert.deepEqual(chunkFate([ref(2, "dd"), retracted(1)], now, GRACE), { keep: true, reason: "referenced" });
  // Both deleted, the last recently: the grace runs from the last.
  assert.deepEqual(chunkFate([retracted(1), retracted(now - 5, "dd")], now, GRACE), {
    keep: true,
    reason: "grace",
  });
  // A record this code does not understand is never taken as a reason to free.
  const odd = { ...ref(1), sortKey: Buffer.from([9, ...Buffer.alloc(32)]) };
  assert.deepEqual(chunkFate([retracted(1), odd], now, GRACE), { keep: true, reason: "unknown-record" });
});
