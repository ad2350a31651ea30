import { DfsError } from "../errors.ts";

/** The wait before a hedge when the caller gives none (the gateway gives its learnt delays: src/gateway/hedge.ts). */
export const HEDGE_AFTER_MS = 200;

export interface AskOptions<T> {
  /** True once the answers so far settle the question, whatever `need` says. */
  enough?: (answers: readonly T[]) => boolean;
  /** The wait before the first hedge; each further hedge of the same call waits twice as long. */
  hedgeMs?: number;
  /** Called each time a hedge asks one more node. */
  onHedge?: () => void;
}

/** Why requests still running when askInTurn returns are stopped (made once). */
const STOPPED = new DfsError("DFS_ERR_CANCELLED", "enough nodes answered");

/**
 * Asks nodes in placement order: `need` at once, then one more for each that gives no answer
 * (undefined: down, or a bad copy), and one more each time `hedgeMs` pass with answers still
 * missing (a node that is slow to answer; the wait doubles after each such hedge, so a read whose
 * nodes are all slow does not ask the whole list at once), until `need` have answered, `enough`
 * says so, or `addrs` runs out and every request is done. Any `need` answers will do: any R − W + 1
 * owners of a manifest share a node with every write quorum, and a chunk is the same on every
 * node. Returns the answers and how many of `addrs` were asked. Requests still running then are
 * told by `stop` (aborted as it returns) and their answers dropped. A rejection of `ask` (a
 * cancelled request) rejects it.
 */
export function askInTurn<T>(
  addrs: readonly string[],
  need: number,
  ask: (addr: string, stop: AbortSignal) => Promise<T | undefined>,
  options: AskOptions<T> = {},
): Promise<{ answers: T[]; asked: number }> {
  const { enough = () => false, onHedge } = options;
  let hedgeMs = options.hedgeMs ?? HEDGE_AFTER_MS;
  return new Promise((resolve, reject) => {
    const answers: T[] = [];
    let asked = 0;
    let pending = 0;
    let done = false;
    let hedge: NodeJS.Timeout | undefined;
    const stop = new AbortController();
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(hedge);
      if (pending > 0) stop.abort(STOPPED);
      if (err === undefined) resolve({ answers, asked });
      else reject(err);
    };
    const askNext = () => {
      const addr = addrs[asked++]!;
      pending++;
      ask(addr, stop.signal).then(
        (answer) => {
          pending--;
          if (done) return;
          if (answer !== undefined) answers.push(answer);
          step();
        },
        (err: unknown) => finish(err ?? new Error("ask failed")),
      );
    };
    const armHedge = () => {
      clearTimeout(hedge);
      if (asked >= addrs.length) return;
      hedge = setTimeout(() => {
        if (done || asked >= addrs.length) return;
        onHedge?.();
        hedgeMs *= 2;
        askNext();
        armHedge();
      }, hedgeMs);
    };
    const step = () => {
      if (answers.length >= need || enough(answers)) return finish();
      while (answers.length + pending < need && asked < addrs.length) askNext();
      if (pending === 0) return finish();
      armHedge();
    };
    step();
  });
}
