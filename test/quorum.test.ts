import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { askInTurn } from "../src/tables/index.ts";
import { advance, settle, settled, useMockTime } from "./helpers/clock.ts";

/** Resolves after `ms` of mocked time (the global setTimeout, which mockTime mocks). */
const after = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An ask() whose nodes answer after the given delays; null: never answers; undefined value: no answer. */
function nodes(behaviour: Record<string, { ms: number | null; answer?: string }>) {
  const asked: string[] = [];
  const ask = async (addr: string): Promise<string | undefined> => {
    asked.push(addr);
    const b = behaviour[addr]!;
    if (b.ms === null) return new Promise<never>(() => {});
    await after(b.ms);
    return b.answer;
  };
  return { ask, asked };
}

describe("askInTurn", () => {
  // Every test drives time itself: hedges are checked to the millisecond, whatever the machine's load.
  useMockTime();

  test("asks `need` owners at once and no more when they answer", async () => {
    const n = nodes({ a: { ms: 5, answer: "A" }, b: { ms: 1, answer: "B" }, c: { ms: 1, answer: "C" } });
    const got = await settle(askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 1000 }));
    assert.deepEqual(got, { answers: ["B", "A"], asked: 2 });
    assert.deepEqual(n.asked, ["a", "b"]);
    assert.equal(Date.now(), 5, "answered when the slower owner did, without a hedge");
  });

  test("one more for each owner that gives no answer", async () => {
    const n = nodes({ a: { ms: 1 }, b: { ms: 1, answer: "B" }, c: { ms: 1, answer: "C" } });
    const got = await settle(askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 1000 }));
    assert.deepEqual(got, { answers: ["B", "C"], asked: 3 });
    assert.equal(Date.now(), 2, "c was asked as soon as a gave no answer, not after a hedge");
  });

  test("an owner that does not answer is hedged: the next one is asked hedgeMs after the last answer", async () => {
    const n = nodes({ a: { ms: null }, b: { ms: 1, answer: "B" }, c: { ms: 1, answer: "C" } });
    const result = askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 50 });
    // b answers at 1 ms; the wait for a then starts again.
    await advance(50);
    assert.deepEqual(n.asked, ["a", "b"], "no hedge before hedgeMs");
    assert.equal(await settled(result), false);
    await advance(1);
    assert.deepEqual(n.asked, ["a", "b", "c"], "the hedge at hedgeMs");
    const got = await settle(result);
    assert.deepEqual(got, { answers: ["B", "C"], asked: 3 });
    assert.equal(Date.now(), 52);
  });

  test("each further hedge of one read waits twice as long as the one before", async () => {
    const askedAt = new Map<string, number>();
    const ask = async (addr: string): Promise<string | undefined> => {
      askedAt.set(addr, Date.now());
      if (addr !== "d") return new Promise<never>(() => {});
      return "D";
    };
    let hedges = 0;
    const got = await settle(
      askInTurn(["a", "b", "c", "d"], 1, ask, { hedgeMs: 40, onHedge: () => hedges++ }),
    );
    assert.deepEqual(got, { answers: ["D"], asked: 4 });
    assert.equal(hedges, 3);
    assert.deepEqual(Object.fromEntries(askedAt), { a: 0, b: 40, c: 40 + 80, d: 40 + 80 + 160 });
  });

  test("requests still running when it returns are stopped; finished ones are not", async () => {
    const stops = new Map<string, AbortSignal>();
    const ask = async (addr: string, stop: AbortSignal): Promise<string | undefined> => {
      stops.set(addr, stop);
      if (addr === "a") return new Promise<never>(() => {});
      await after(1);
      return addr.toUpperCase();
    };
    const got = await settle(askInTurn(["a", "b", "c"], 1, ask, { hedgeMs: 20 }));
    assert.deepEqual(got, { answers: ["B"], asked: 2 });
    assert.equal(stops.get("a")?.aborted, true, "the silent one is told to stop");
    assert.ok(!stops.has("c"), "no third request");
    const quick = await settle(askInTurn(["b", "c"], 1, ask, { hedgeMs: 1000 }));
    assert.deepEqual(quick, { answers: ["B"], asked: 1 });
    assert.equal(stops.get("b")?.aborted, false);
  });

  test("no hedge fires after it returns", async () => {
    const n = nodes({ a: { ms: 1, answer: "A" }, b: { ms: null } });
    let hedges = 0;
    const got = await settle(askInTurn(["a", "b"], 1, n.ask, { hedgeMs: 10, onHedge: () => hedges++ }));
    assert.deepEqual(got, { answers: ["A"], asked: 1 });
    await advance(100);
    assert.equal(hedges, 0);
    assert.deepEqual(n.asked, ["a"]);
  });

  test("stops as soon as `enough` says so", async () => {
    const n = nodes({ a: { ms: 1, answer: "yes" }, b: { ms: null }, c: { ms: 1, answer: "C" } });
    const got = await settle(
      askInTurn(["a", "b", "c"], 2, n.ask, {
        enough: (answers) => answers.includes("yes"),
        hedgeMs: 1000,
      }),
    );
    assert.deepEqual(got, { answers: ["yes"], asked: 2 });
    assert.equal(Date.now(), 1);
  });

  test("runs out of owners: fewer answers, every owner asked", async () => {
    const n = nodes({ a: { ms: 1 }, b: { ms: 2 }, c: { ms: 1, answer: "C" } });
    const got = await settle(askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 1000 }));
    assert.deepEqual(got, { answers: ["C"], asked: 3 });
  });

  test("a rejected ask (a cancelled request) rejects it", async () => {
    const ask = async (addr: string) => {
      if (addr === "b") throw new Error("cancelled");
      return "A";
    };
    await assert.rejects(settle(askInTurn(["a", "b", "c"], 2, ask, { hedgeMs: 1000 })), /cancelled/);
  });
});
