/**
 * The partition harness's pure parts with made-up histories: the checker finds each kind of anomaly
 * (and nothing in a clean history), the report's recovery times and shares, the schedules'
 * reproducibility from a seed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { check } from "./partitions/checker.ts";
import { FAULT_KINDS } from "./partitions/faults.ts";
import { ABSENT, type Op } from "./partitions/history.ts";
import { backAfter, faultRows, oneNodeTransfers } from "./partitions/report.ts";
import { randomSchedule, shortSchedule } from "./partitions/schedule.ts";

let id = 0;
function op(p: Partial<Op> & Pick<Op, "kind" | "target" | "invokeMs">): Op {
  return { id: id++, client: 0, gateway: 0, endMs: p.invokeMs + 10, outcome: "ok", ...p };
}

const H = "a".repeat(64);
const OTHER = "b".repeat(64);

describe("checker", () => {
  test("a clean history has no anomaly", () => {
    const ops = [
      op({ kind: "upload", target: H, value: H, invokeMs: 0 }),
      op({ kind: "download", target: H, value: H, invokeMs: 20 }),
      op({ kind: "stat", target: H, value: H, invokeMs: 40 }),
      op({ kind: "delete", target: H, value: ABSENT, invokeMs: 60 }),
      op({ kind: "download", target: H, value: ABSENT, invokeMs: 80 }),
      op({ kind: "put", target: "c0/k", value: "v1", invokeMs: 100 }),
      op({ kind: "get", target: "c0/k", value: "v1", invokeMs: 120 }),
      op({ kind: "list", target: "c0/", keys: ["c0/k"], invokeMs: 140 }),
      op({ kind: "download", target: OTHER, outcome: "fail", status: 503, invokeMs: 160 }),
    ];
    assert.deepEqual(check(ops), []);
  });

  test("an acknowledged upload that reads back as absent is a lost write", () => {
    const ops = [
      op({ kind: "upload", target: H, value: H, invokeMs: 0 }),
      op({ kind: "download", target: H, value: ABSENT, invokeMs: 20, client: -1 }),
    ];
    assert.deepEqual(
      check(ops).map((a) => a.kind),
      ["lost-write"],
    );
  });

  test("bytes that no client wrote are found", () => {
    const ops = [
      op({ kind: "upload", target: H, value: H, invokeMs: 0 }),
      op({ kind: "download", target: H, value: OTHER, invokeMs: 20 }),
    ];
    assert.deepEqual(
      check(ops).map((a) => a.kind),
      ["unwritten-bytes"],
    );
  });

  test("a file that comes back after an acknowledged delete is a resurrected delete", () => {
    const ops = [
      op({ kind: "upload", target: H, value: H, invokeMs: 0 }),
      op({ kind: "delete", target: H, value: ABSENT, invokeMs: 20 }),
      op({ kind: "download", target: H, value: H, invokeMs: 40 }),
    ];
    assert.deepEqual(
      check(ops).map((a) => a.kind),
      ["resurrected-delete"],
    );
  });

  test("an unanswered write may or may not have happened: both reads pass", () => {
    const ops = [
      op({ kind: "upload", target: H, value: H, outcome: "unknown", invokeMs: 0 }),
      op({ kind: "download", target: H, value: ABSENT, invokeMs: 20 }),
      op({ kind: "download", target: H, value: H, invokeMs: 40 }),
      op({ kind: "put", target: "c0/k", value: "v1", invokeMs: 60 }),
      op({ kind: "put", target: "c0/k", value: "v2", outcome: "fail", invokeMs: 80 }),
      op({ kind: "get", target: "c0/k", value: "v1", invokeMs: 100 }),
      op({ kind: "get", target: "c0/k", value: "v2", invokeMs: 120 }),
    ];
    assert.deepEqual(check(ops), []);
  });

  test("an older value after an acknowledged overwrite is a stale read", () => {
    const ops = [
      op({ kind: "put", target: "c0/k", value: "v1", invokeMs: 0 }),
      op({ kind: "put", target: "c0/k", value: "v2", invokeMs: 20 }),
      op({ kind: "get", target: "c0/k", value: "v1", invokeMs: 40 }),
    ];
    assert.deepEqual(
      check(ops).map((a) => a.kind),
      ["stale-read"],
    );
  });

  test("a listing without an acknowledged key, and a final read not answered, are anomalies", () => {
    const ops = [
      op({ kind: "put", target: "c0/k", value: "v1", invokeMs: 0 }),
      op({ kind: "put", target: "c1/k", value: "v1", invokeMs: 0, client: 1 }),
      op({ kind: "list", target: "c0/", keys: [], invokeMs: 20 }),
      op({ kind: "get", target: "c0/k", outcome: "fail", status: 503, invokeMs: 40, client: -1 }),
    ];
    const found = check(ops);
    assert.deepEqual(
      found.map((a) => a.kind),
      ["listing-missing-key", "final-unanswered"],
    );
    assert.match(found[0]!.message, /c0\/k/);
  });
});

describe("report", () => {
  test("writes are back after the first op that follows the last failure", () => {
    const ops = [
      op({ kind: "upload", target: "1", invokeMs: 1000, outcome: "fail" }),
      op({ kind: "upload", target: "2", invokeMs: 2500 }),
      op({ kind: "upload", target: "3", invokeMs: 3000, outcome: "unknown" }),
      op({ kind: "upload", target: "4", invokeMs: 4200 }),
      op({ kind: "upload", target: "5", invokeMs: 5000 }),
    ];
    assert.equal(backAfter(ops, 1000, 9000), 3200);
    assert.equal(backAfter(ops.slice(3), 1000, 9000), 0);
    assert.equal(backAfter(ops.slice(0, 1), 1000, 9000), 8000);
  });

  test("shares count the operations invoked while the fault lasted", () => {
    const ops = [
      op({ kind: "upload", target: "1", invokeMs: 500, outcome: "fail" }),
      op({ kind: "upload", target: "2", invokeMs: 1500 }),
      op({ kind: "download", target: "2", invokeMs: 1600, outcome: "fail" }),
      op({ kind: "get", target: "k", invokeMs: 1700 }),
      op({ kind: "get", target: "k", invokeMs: 1800 }),
      op({ kind: "get", target: "k", invokeMs: 1900, client: -1, outcome: "fail" }),
    ];
    const [row] = faultRows(ops, [{ name: "f", startMs: 1000, healMs: 2000 }], 1000);
    assert.equal(row!.ops, 4);
    assert.equal(row!.okShare, 0.75);
    assert.equal(row!.transferOkShare, 0.5);
    assert.equal(row!.writesBackMs, 0);
    assert.equal(row!.readsBackMs, 700);
    assert.equal(row!.slowestWriteMs, 10);
  });
});

describe("schedule", () => {
  const o = { faultMs: 5000, gapMs: 5000, nodes: ["n1", "n2", "n5"], zones: ["z1", "z2"] };

  test("the short schedule has every fault once, one after another", () => {
    const steps = shortSchedule(7, o);
    assert.deepEqual([...steps.map((s) => s.fault.kind)].sort(), [...FAULT_KINDS].sort());
    for (const [i, s] of steps.entries()) assert.equal(s.atMs, i * 10_000);
    assert.equal(steps.find((s) => s.fault.kind === "disk-full")!.fault.target, "n5");
    for (const s of steps.filter((x) => x.fault.kind === "partition-node"))
      assert.notEqual(s.fault.target, "n5");
  });

  test("a seed gives the same schedule again, another seed another one", () => {
    assert.deepEqual(randomSchedule(3, 5, o), randomSchedule(3, 5, o));
    assert.notDeepEqual(randomSchedule(3, 5, o), randomSchedule(4, 5, o));
    assert.equal(randomSchedule(3, 5, o).length, 30);
  });
});

describe("one-node faults", () => {
  test("uploads and downloads while one node was away are counted, other faults' are not", () => {
    const ops = [
      op({ kind: "upload", target: "1", invokeMs: 100 }),
      op({ kind: "download", target: "1", invokeMs: 200, outcome: "fail" }),
      op({ kind: "get", target: "k", invokeMs: 300 }),
      op({ kind: "upload", target: "2", invokeMs: 1100, outcome: "fail" }),
    ];
    const faults = [
      { name: "stop-node n1", startMs: 0, healMs: 1000 },
      { name: "bandwidth n2", startMs: 1000, healMs: 2000 },
    ];
    assert.deepEqual(oneNodeTransfers(ops, faults), { ok: 1, total: 2 });
  });
});
