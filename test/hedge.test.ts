import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HedgeDelay } from "../src/gateway/hedge.ts";

function recordAll(hedge: HedgeDelay, ms: readonly number[]): void {
  for (const m of ms) hedge.record(m);
}

describe("HedgeDelay", () => {
  test("waits the ceiling until it has timed enough answers", () => {
    const h = new HedgeDelay(5, 1000);
    assert.equal(h.ms, 1000);
    recordAll(h, Array(15).fill(10));
    assert.equal(h.ms, 1000, "15 answers are not enough");
    h.record(10);
    assert.equal(h.ms, 20, "twice the 95th percentile of 16 answers of 10 ms");
  });

  test("twice the 95th percentile: the slowest 5% do not move it, 6% do", () => {
    // 112 answers (7 rounds of 16), one in 23 or one in 16 slow: 5 (4.5%) or 7 (6.3%) in all.
    const answers = (slowEvery: number) =>
      Array.from({ length: 112 }, (_, i) => (i % slowEvery === 7 ? 400 : 8));
    const mostlyFast = new HedgeDelay(5, 1000);
    recordAll(mostlyFast, answers(23));
    assert.equal(mostlyFast.ms, 16);
    const slowerTail = new HedgeDelay(5, 1000);
    recordAll(slowerTail, answers(16));
    assert.equal(slowerTail.ms, 800);
  });

  test("stays within its floor and ceiling", () => {
    const fast = new HedgeDelay(5, 1000);
    recordAll(fast, Array(32).fill(0.5));
    assert.equal(fast.ms, 5);
    const slow = new HedgeDelay(5, 1000);
    recordAll(slow, Array(32).fill(3000));
    assert.equal(slow.ms, 1000);
  });

  test("follows a change of load: old answers leave the window", () => {
    const h = new HedgeDelay(5, 1000);
    recordAll(h, Array(256).fill(10));
    assert.equal(h.ms, 20);
    // Slower answers come in: once more than 5% of the window is slow, the delay follows them.
    recordAll(h, Array(32).fill(100));
    assert.equal(h.ms, 200);
    recordAll(h, Array(256).fill(2));
    assert.equal(h.ms, 5);
  });
});
