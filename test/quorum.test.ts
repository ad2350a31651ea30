import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { askInTurn } from "../src/gateway/quorum.ts";

/** An ask() whose nodes answer after the given delays; null: never answers; undefined value: no answer. */
function nodes(behaviour: Record<string, { ms: number | null; answer?: string }>) {
  const asked: string[] = [];
  const ask = async (addr: string): Promise<string | undefined> => {
    asked.push(addr);
    const b = behaviour[addr]!;
    if (b.ms === null) return new Promise<never>(() => {});
    await delay(b.ms);
    return b.answer;
  };
  return { ask, asked };
}

describe("askInTurn", () => {
  test("asks `need` owners at once and no more when they answer", async () => {
    const n = nodes({ a: { ms: 5, answer: "A" }, b: { ms: 1, answer: "B" }, c: { ms: 1, answer: "C" } });
    const got = await askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 1000 });
    assert.deepEqual(got, { answers: ["B", "A"], asked: 2 });
    assert.deepEqual(n.asked, ["a", "b"]);
  });

  test("one more for each owner that gives no answer", async () => {
    const n = nodes({ a: { ms: 1 }, b: { ms: 1, answer: "B" }, c: { ms: 1, answer: "C" } });
    const got = await askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 1000 });
    assert.deepEqual(got, { answers: ["B", "C"], asked: 3 });
  });

  test("an owner that does not answer is hedged: the next one is asked after hedgeMs", async () => {
    const n = nodes({ a: { ms: null }, b: { ms: 1, answer: "B" }, c: { ms: 1, answer: "C" } });
    const started = performance.now();
    const got = await askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 50 });
    const took = performance.now() - started;
    assert.deepEqual(got, { answers: ["B", "C"], asked: 3 });
    assert.ok(took >= 45 && took < 1000, `answered after ${took} ms`);
  });

  test("each further hedge of one read waits twice as long as the one before", async () => {
    const askedAt = new Map<string, number>();
    const started = performance.now();
    const ask = async (addr: string): Promise<string | undefined> => {
      askedAt.set(addr, performance.now() - started);
      if (addr !== "d") return new Promise<never>(() => {});
      return "D";
    };
    let hedges = 0;
    const got = await askInTurn(["a", "b", "c", "d"], 1, ask, { hedgeMs: 40, onHedge: () => hedges++ });
    assert.deepEqual(got, { answers: ["D"], asked: 4 });
    assert.equal(hedges, 3);
    const [a, b, c, d] = ["a", "b", "c", "d"].map((addr) => askedAt.get(addr)!);
    // Timers fire late under load, never early (a 1 ms slack for clock rounding).
    assert.ok(b! - a! >= 39, `b asked ${b! - a!} ms after a`);
    assert.ok(c! - b! >= 79, `c asked ${c! - b!} ms after b`);
    assert.ok(d! - c! >= 159, `d asked ${d! - c!} ms after c`);
  });

  test("requests still running when it returns are stopped; finished ones are not", async () => {
    const stops = new Map<string, AbortSignal>();
    const ask = async (addr: string, stop: AbortSignal): Promise<string | undefined> => {
      stops.set(addr, stop);
      if (addr === "a") return new Promise<never>(() => {});
      await delay(1);
      return addr.toUpperCase();
    };
    const got = await askInTurn(["a", "b", "c"], 1, ask, { hedgeMs: 20 });
    assert.deepEqual(got, { answers: ["B"], asked: 2 });
    assert.equal(stops.get("a")?.aborted, true, "the silent one is told to stop");
    assert.ok(!stops.has("c"), "no third request");
    const quick = await askInTurn(["b", "c"], 1, ask, { hedgeMs: 1000 });
    assert.deepEqual(quick, { answers: ["B"], asked: 1 });
    assert.equal(stops.get("b")?.aborted, false);
  });

  test("stops as soon as `enough` says so", async () => {
    const n = nodes({ a: { ms: 1, answer: "yes" }, b: { ms: null }, c: { ms: 1, answer: "C" } });
    const got = await askInTurn(["a", "b", "c"], 2, n.ask, {
      enough: (answers) => answers.includes("yes"),
      hedgeMs: 1000,
    });
    assert.deepEqual(got, { answers: ["yes"], asked: 2 });
  });

  test("runs out of owners: fewer answers, every owner asked", async () => {
    const n = nodes({ a: { ms: 1 }, b: { ms: 2 }, c: { ms: 1, answer: "C" } });
    const got = await askInTurn(["a", "b", "c"], 2, n.ask, { hedgeMs: 1000 });
    assert.deepEqual(got, { answers: ["C"], asked: 3 });
  });

  test("a rejected ask (a cancelled request) rejects it", async () => {
    const ask = async (addr: string) => {
      if (addr === "b") throw new Error("cancelled");
      return "A";
    };
    await assert.rejects(askInTurn(["a", "b", "c"], 2, ask, { hedgeMs: 1000 }), /cancelled/);
  });
});
