import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GraceMembers } from "../src/node/heal/members.ts";
import { planObject } from "../src/node/heal/plan.ts";
import { ExpiredTombstones } from "../src/node/heal/tombstones.ts";
import { TokenBucket } from "../src/node/rate-limit.ts";
import type { NodeInfo } from "../src/registry/index.ts";

const live = new Set(["a", "b", "c", "d"]);
const none = new Set<string>();
const facts = (self: string, current: string[], extra: Partial<Parameters<typeof planObject>[0]> = {}) =>
  planObject({
    order: ["a", "b", "c", "d"],
    replicas: 3,
    self,
    live,
    current: new Set(current),
    unreachable: none,
    ...extra,
  });

describe("plan: who acts, where copies go, when a copy is dropped", () => {
  test("the first owner holding a current copy acts; later owners do not", () => {
    assert.deepEqual(facts("a", []), {
      owners: ["a", "b", "c"],
      acts: true,
      copyTo: ["b", "c"],
      drop: false,
      copies: 1,
    });
    assert.equal(facts("b", ["a"]).acts, false);
    assert.deepEqual(facts("b", ["c"]), {
      owners: ["a", "b", "c"],
      acts: true,
      copyTo: ["a"],
      drop: false,
      copies: 2,
    });
  });

  test("a non-owner acts only when no owner holds a current copy, and drops only when all R confirmed", () => {
    assert.deepEqual(facts("d", []).copyTo, ["a", "b", "c"]);
    assert.equal(facts("d", ["b"]).acts, false);
    assert.equal(facts("d", ["a", "b"]).drop, false);
    assert.equal(facts("d", ["a", "b", "c"]).drop, true);
  });

  test("an owner within its grace (not live) gets nothing and blocks drops; unreachable owners too", () => {
    const graceful = new Set(["a", "c", "d"]);
    assert.deepEqual(facts("c", [], { live: graceful }).copyTo, ["a"]);
    assert.equal(facts("d", ["a", "b", "c"], { live: graceful }).drop, false);
    assert.deepEqual(facts("a", [], { unreachable: new Set(["b"]) }).copyTo, ["c"]);
  });
});

describe("grace members", () => {
  const info = (id: string, state: "live" | "expired", age: number): NodeInfo => ({
    id,
    addr: `${id}:1`,
    zone: "z",
    capacityBytes: 1,
    freeBytes: 1,
    version: "0",
    startedAt: 0,
    incarnation: 1,
    lastHeartbeatAgeMs: age,
    state,
  });

  test("a node keeps its share for the grace after its last beat, even once the registry forgot it", () => {
    const g = new GraceMembers(1000);
    const t = 1_000_000;
    let m = g.update([info("a", "live", 0), info("b", "live", 0)], t);
    assert.deepEqual(
      m.nodes.map((n) => n.id),
      ["a", "b"],
    );
    m = g.update([info("a", "live", 0), info("b", "expired", 400)], t + 400);
    assert.deepEqual(
      m.nodes.map((n) => n.id),
      ["a", "b"],
    );
    assert.deepEqual([...m.live], ["a:1"]);
    m = g.update([info("a", "live", 0)], t + 900); // reaped from the registry, still within grace
    assert.deepEqual(
      m.nodes.map((n) => n.id),
      ["a", "b"],
    );
    m = g.update([info("a", "live", 0)], t + 1100);
    assert.deepEqual(
      m.nodes.map((n) => n.id),
      ["a"],
    );
  });
});

describe("token bucket", () => {
  test("holds throughput to its rate", async () => {
    const bucket = new TokenBucket(100_000);
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) await bucket.take(10_000); // 300 kB: 100 kB at once, 200 kB at the rate
    const ms = performance.now() - t0;
    assert.ok(ms >= 1800 && ms < 4000, `took ${ms} ms`);
  });

  test("a wait ends at once when its signal is aborted, with the signal's reason", async () => {
    const bucket = new TokenBucket(100_000);
    await bucket.take(1_000_000); // ten seconds overspent
    const stop = new AbortController();
    const t0 = performance.now();
    const waiting = bucket.take(10_000, stop.signal);
    setTimeout(() => stop.abort(new Error("stopping")), 50);
    await assert.rejects(waiting, /stopping/);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `the wait went on for ${ms} ms`);
  });
});

describe("expired tombstones", () => {
  const DAY = 86_400_000;
  const now = 100 * DAY;
  const tomb = (stamp: number) => ({ type: "tombstone" as const, stamp, chunkIds: [] });
  const manifest = (stamp: number) => ({ type: "manifest" as const, stamp, chunkIds: ["c".repeat(64)] });

  test("only this node's tombstones past the grace, unless a node holds a manifest as old or older", () => {
    const t = new ExpiredTombstones(10 * DAY, now);
    t.own("old", tomb(now - 11 * DAY));
    t.own("young", tomb(now - 9 * DAY));
    t.own("kept-file", manifest(now - 50 * DAY));
    t.own("hides-older", tomb(now - 11 * DAY));
    t.own("hides-same", tomb(now - 11 * DAY));
    t.own("uploaded-again", tomb(now - 11 * DAY));
    t.own("peer-tombstone", tomb(now - 11 * DAY));
    t.seen("hides-older", manifest(now - 12 * DAY)); // a copy the delete missed
    t.seen("hides-same", manifest(now - 11 * DAY)); // a tie: the tombstone wins it, so it still hides it
    t.seen("uploaded-again", manifest(now - DAY)); // the same bytes uploaded again: newer, nothing to hide
    t.seen("peer-tombstone", tomb(now - 20 * DAY));
    t.seen("not-ours", manifest(1));
    assert.deepEqual([...t.expired.keys()].sort(), ["old", "peer-tombstone", "uploaded-again"]);
    assert.equal(t.expired.get("old"), now - 11 * DAY);
  });
});
