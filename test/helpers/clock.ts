/**
 * Time a test drives: node:test mock timers (the global setTimeout and Date) and a Clock over them,
 * so timing logic is checked to the millisecond without waiting on a loaded machine's wall clock.
 */
import { afterEach, beforeEach, mock } from "node:test";
import { setImmediate } from "node:timers";
import { type Clock, systemClock } from "../../src/node/clock.ts";

/** Mocks setTimeout and Date, from time 0, in each test of the suite it is called in. */
export function useMockTime(): void {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 }));
  afterEach(() => mock.timers.reset());
}

/** The mocked time: Date.now() and the global setTimeout, both moved by advance(). */
export const mockClock: Clock = { now: () => Date.now(), sleep: systemClock.sleep };

/** Lets every promise that can settle now settle (setImmediate is not mocked). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Moves mocked time on by `ms`, a millisecond at a time, letting promises settle after each. */
export async function advance(ms: number): Promise<void> {
  await flush();
  for (let i = 0; i < ms; i++) {
    mock.timers.tick(1);
    await flush();
  }
}

/** Advances mocked time until `p` settles (at most `maxMs`), then returns it. */
export async function settle<T>(p: Promise<T>, maxMs = 60_000): Promise<T> {
  const done = settledFlag(p);
  await flush();
  for (let i = 0; i < maxMs && !done(); i++) await advance(1);
  return p;
}

/** Whether `p` has settled by now (without moving time). */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  const done = settledFlag(p);
  await flush();
  return done();
}

/** A flag that turns true once `p` settles, fulfilled or rejected (the rejection stays `p`'s to report). */
function settledFlag(p: Promise<unknown>): () => boolean {
  let done = false;
  const mark = () => {
    done = true;
  };
  p.then(mark, mark);
  return () => done;
}
