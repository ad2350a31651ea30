import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { HybridClock } from "../src/formats/index.ts";
import { Healer } from "../src/node/heal/index.ts";
import { GraceMembers } from "../src/node/heal/members.ts";
import { hasWithin, PEER_ANSWER_MS } from "../src/node/heal/peer-answer.ts";
import { planObject } from "../src/node/heal/plan.ts";
import { ExpiredTombstones } from "../src/node/heal/tombstones.ts";
import { TokenBucket } from "../src/node/rate-limit.ts";
import { AliveMark, ObjectStore } from "../src/node/store/index.ts";
import { ObjectDigests } from "../src/node/sync/index.ts";
import { TableStore } from "../src/node/tables/index.ts";
import type { NodeInfo } from "../src/registry/index.ts";
import type { NodeClient } from "../src/transport/index.ts";
import { advance, flush, mockClock, settle, settled, useMockTime } from "./helpers/clock.ts";
import { testNodeClient } from "./helpers/cluster.ts";
import { testLogger } from "./helpers/registry.ts";
import { storeOptions } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

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

describe("grace members", () => {
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
  // The bucket runs on mocked time: its refills are checked to the millisecond on any machine.
  useMockTime();

  test("holds throughput to its rate: one second of bytes at once, the rest as it refills", async () => {
    const bucket = new TokenBucket(100_000, mockClock);
    let taken = 0;
    const all = (async () => {
      for (let i = 0; i < 30; i++) {
        await bucket.take(10_000); // 300 kB: 100 kB at once, 200 kB at the rate
        taken++;
      }
    })();
    await flush();
    assert.equal(taken, 10, "the full bucket at once");
    await advance(99);
    assert.equal(taken, 10, "10 kB more needs 100 ms");
    await advance(1);
    assert.equal(taken, 11);
    await advance(1899);
    assert.equal(taken, 29);
    await advance(1);
    assert.equal(taken, 30, "200 kB at 100 kB/s: two seconds");
    await all;
  });

  test("callers are served in order: a large request holds up the small ones behind it", async () => {
    const bucket = new TokenBucket(100_000, mockClock);
    await bucket.take(100_000); // empty
    const done: string[] = [];
    const big = bucket.take(300_000).then(() => done.push("big"));
    const small = bucket.take(1).then(() => done.push("small"));
    await advance(999);
    assert.deepEqual(done, [], "the large one waits until a whole bucket is back");
    await advance(1);
    assert.deepEqual(done, ["big"], "then it takes it and drives the bucket below zero");
    await advance(2000);
    assert.deepEqual(done, ["big"], "the small one waits for the large one's whole size");
    await advance(1);
    assert.deepEqual(done, ["big", "small"]);
    await Promise.all([big, small]);
  });

  test("a wait ends at once when its signal is aborted, with the signal's reason", async () => {
    const bucket = new TokenBucket(100_000, mockClock);
    await bucket.take(1_000_000); // 900 kB below zero: nine seconds overspent
    const stop = new AbortController();
    const waiting = bucket.take(10_000, stop.signal);
    let failed: unknown;
    waiting.catch((err: unknown) => {
      failed = err;
    });
    await advance(50);
    assert.equal(failed, undefined);
    stop.abort(new Error("stopping"));
    await flush();
    assert.match(String(failed), /stopping/, "rejected without any more time passing");
    await assert.rejects(waiting, /stopping/);
    // The next caller is not held up by the aborted one: it waits only until 900 kB + 10 kB refilled.
    const next = bucket.take(10_000).then(() => Date.now());
    assert.equal(await settle(next), 9_100);
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

describe("healer rounds", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let store: ObjectStore;
  let tables: TableStore;
  let nodes: NodeClient;
  // Opened before the mocked time starts: the store and client need the real timers.
  before(async () => {
    dir = await makeTempDir("dfs-healer-");
    store = await ObjectStore.open(storeOptions(dir.path));
    tables = await TableStore.open({ path: join(dir.path, "tables.mdb"), clock: new HybridClock() });
    nodes = testNodeClient("node", "healer-rounds");
  });
  after(async () => {
    await nodes.close();
    await tables.close();
    await store.close();
    await dir.remove();
  });

  const running: Healer[] = [];
  // Stops the loops even when an assertion failed, before the real timers come back; a healer
  // that does not stop at once fails the test rather than hanging it.
  afterEach(async () => {
    const stops = running.splice(0).map((h) => h.stop());
    for (const stop of stops) assert.ok(await settled(stop), "the healer did not stop at once");
  });
  useMockTime();

  /**
   * A healer whose rounds only record when they ran; each repair round takes `repairMs`. Its
   * registry view answers `members()`; `options` override the timings.
   */
  function healer(
    repairMs: number,
    members: () => NodeInfo[] = () => [],
    options: Partial<ConstructorParameters<typeof Healer>[1]> = {},
  ) {
    const h = new Healer(
      {
        store,
        tables,
        // An empty store has no manifest whose references to build: nothing is written.
        tableClient: { write: () => Promise.reject(new Error("no table writes expected")) },
        refsMarker: join(dir.path, "refs-built"),
        alive: new AliveMark(dir.path),
        nodes,
        view: { all: members, stale: false },
        self: "127.0.0.1:1",
        selfId: "healer-rounds-test",
        logger: testLogger(),
        budget: new TokenBucket(1 << 20, mockClock),
        clock: mockClock,
        digests: new ObjectDigests(),
      },
      {
        replicas: 3,
        repairGraceMs: 1000,
        repairIntervalMs: 1000,
        scrubIntervalMs: 4000,
        gcGraceMs: 6000, // gc every max(1000, 6000 / 2) = 3000 ms
        tombstoneGraceMs: 60_000,
        ...options,
      },
    );
    const ran: { round: string; at: number }[] = [];
    const record = (round: string) => {
      ran.push({ round, at: Date.now() });
    };
    h.repairOnce = async () => {
      record("repair");
      if (repairMs > 0) await mockClock.sleep(repairMs);
    };
    h.scrubOnce = async () => {
      record("scrub");
    };
    h.gcOnce = async () => {
      record("gc");
    };
    const at = (round: string) => ran.filter((r) => r.round === round).map((r) => r.at);
    running.push(h);
    return { h, at };
  }

  test("first rounds after half to all of an interval, then an interval after each round ends", async (t) => {
    t.mock.method(Math, "random", () => 0); // the earliest start: half an interval
    const { h, at } = healer(300);
    h.start();
    await advance(499);
    assert.deepEqual([at("repair"), at("scrub"), at("gc")], [[], [], []], "no round before half an interval");
    await advance(1);
    assert.deepEqual(at("repair"), [500]);
    await advance(9500);
    // Each repair round takes 300 ms; the next starts 1000 ms after it ended.
    assert.deepEqual(at("repair"), [500, 1800, 3100, 4400, 5700, 7000, 8300, 9600]);
    assert.deepEqual(at("scrub"), [2000, 6000, 10_000]);
    assert.deepEqual(at("gc"), [1500, 4500, 7500]);
  });

  test("the first round's spread: (0.5 + random / 2) of an interval", async (t) => {
    t.mock.method(Math, "random", () => 0.5);
    const { h, at } = healer(0);
    h.start();
    await advance(749);
    assert.deepEqual(at("repair"), []);
    await advance(1);
    assert.deepEqual(at("repair"), [750]);
    assert.deepEqual(at("gc"), [], "gc's interval is 3000 ms: its first round at 2250");
    await advance(1500);
    assert.deepEqual(at("gc"), [2250]);
  });

  test("a membership change starts a repair round after the debounce, not at the period's end", async (t) => {
    t.mock.method(Math, "random", () => 0); // the first periodic round at half of 60 s
    const node = (id: string, aliveUntil = Number.POSITIVE_INFINITY): NodeInfo => {
      const age = Math.max(0, Date.now() - aliveUntil);
      return { ...info(id, age > 0 ? "expired" : "live", age) };
    };
    let view = () => [node("a"), node("b")];
    const { h, at } = healer(100, () => view(), { repairIntervalMs: 60_000, membershipDebounceMs: 300 });
    h.start();
    await advance(1100);
    assert.deepEqual(at("repair"), [], "nothing changed: no round before the period");
    // c joins at 1100; the watch (every 250 ms) sees it at 1250: a round at 1550.
    view = () => [node("a"), node("b"), node("c")];
    await advance(1000);
    assert.deepEqual(at("repair"), [1550]);
    // A burst: d joins at 2100 and e 100 ms later: one round, 300 ms after the first was seen.
    view = () => [node("a"), node("b"), node("c"), node("d")];
    await advance(100);
    view = () => [node("a"), node("b"), node("c"), node("d"), node("e")];
    await advance(900);
    assert.deepEqual(at("repair"), [1550, 2550]);
    // e's heartbeat stops at 3100: it leaves the live set (seen at 3250: a round at 3550) and,
    // past its grace of 1000 ms, placement (seen at 4250: a round at 4550).
    view = () => [node("a"), node("b"), node("c"), node("d"), node("e", 3100)];
    await advance(2000);
    assert.deepEqual(at("repair"), [1550, 2550, 3550, 4550]);
    // e leaves the registry: the members are the same (it is past its grace already), no round.
    view = () => [node("a"), node("b"), node("c"), node("d")];
    await advance(500);
    assert.deepEqual(at("repair"), [1550, 2550, 3550, 4550]);
    // f joins at 5600 (seen at 5750: a round at 6050 that runs until 6150); g joins at 6100, while
    // that round runs: seen at 6250, so one more round at 6550.
    view = () => [node("a"), node("b"), node("c"), node("d"), node("f")];
    await advance(500);
    view = () => [node("a"), node("b"), node("c"), node("d"), node("f"), node("g")];
    await advance(1000);
    assert.deepEqual(at("repair"), [1550, 2550, 3550, 4550, 6050, 6550]);
    // Then the period again: 60 s after the last round ended (6650).
    await advance(59_549);
    assert.equal(at("repair").length, 6);
    await advance(1);
    assert.equal(at("repair").at(-1), 66_650);
    await advance(100); // the round's own 100 ms: stop() interrupts sleeps, not rounds
  });

  test("stop() ends the loops' sleeps at once: no time passes, no round runs after it", async (t) => {
    t.mock.method(Math, "random", () => 0);
    const { h, at } = healer(0);
    h.start();
    await advance(600);
    assert.deepEqual(at("repair"), [500]);
    const stopped = h.stop();
    assert.equal(await settled(stopped), true, "stop waited for a sleep to end");
    assert.equal(Date.now(), 600);
    await advance(5000);
    assert.deepEqual(at("repair"), [500]);
  });
});

describe("repair's HAS", () => {
  useMockTime();

  test("a peer that answers nothing fails after PEER_ANSWER_MS, not the request timeout", async () => {
    const silent = { has: () => new Promise<boolean[]>(() => {}) };
    const asked = hasWithin(silent, "10.0.0.9:7000", ["a".repeat(64)], "chunk");
    asked.catch(() => {});
    await advance(PEER_ANSWER_MS - 1);
    assert.equal(await settled(asked), false, "gave up early");
    await advance(1);
    await assert.rejects(asked, (err: unknown) => isDfsError(err, "DFS_ERR_TIMEOUT"));
  });

  test("an answer in time is passed on", async () => {
    const quick = { has: async () => [true, false] };
    assert.deepEqual(await settle(hasWithin(quick, "10.0.0.9:7000", ["a", "b"], "manifest")), [true, false]);
  });
});
