import type { GatewayContext } from "./context.ts";

/** Answers remembered per kind of read: enough for a steady 95th percentile, few enough to follow load. */
const WINDOW = 256;
/** Below this many answers the ceiling is used: the percentile of a handful says little. */
const MIN_SAMPLES = 16;
/** The delay is worked out again after this many new answers, not on every read (a sort of WINDOW). */
const RECOMPUTE_EVERY = 16;

/**
 * How long a read waits on a node before it also asks the next one: twice the 95th percentile of
 * the last answers of its kind, within [floor, ceiling]. A node that stalls (a stopped process, a
 * disk that hangs) then costs a read about two usual answer times instead of a fixed ceiling, as
 * "The Tail at Scale" (Dean and Barroso) hedges after the 95th percentile; doubling it keeps second
 * requests rare in a healthy cluster (about 1 read in 1,000 in the bench), since each may move a
 * whole chunk. Only answers are timed: a read that was hedged and then cancelled is not an answer,
 * so a stalled node does not teach the gateway to wait for it. Until MIN_SAMPLES answers came, the
 * ceiling applies.
 */
export class HedgeDelay {
  readonly floorMs: number;
  readonly ceilingMs: number;
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;
  #next = 0;
  #sinceComputed = 0;
  #ms: number;

  constructor(floorMs: number, ceilingMs: number) {
    this.floorMs = floorMs;
    this.ceilingMs = ceilingMs;
    this.#ms = ceilingMs;
  }

  /** A node answered `ms` after it was asked. */
  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % WINDOW;
    if (this.#count < WINDOW) this.#count++;
    if (++this.#sinceComputed >= RECOMPUTE_EVERY && this.#count >= MIN_SAMPLES) this.#compute();
  }

  /** The wait before a read asks one more node. */
  get ms(): number {
    return this.#ms;
  }

  #compute(): void {
    this.#sinceComputed = 0;
    const sorted = this.#samples.slice(0, this.#count).sort();
    const p95 = sorted[Math.min(this.#count - 1, Math.floor(this.#count * 0.95))] ?? this.ceilingMs;
    this.#ms = Math.min(this.ceilingMs, Math.max(this.floorMs, 2 * p95));
  }
}

/** Times one request: call the result when its answer came. */
export function timer(hedge: HedgeDelay): () => void {
  const started = performance.now();
  return () => hedge.record(performance.now() - started);
}

export interface GatewayHedges {
  readonly small: HedgeDelay;
  readonly chunk: HedgeDelay;
  /** Chain PUTs (a chunk stored and forwarded along its owners): when to also send it straight. */
  readonly chain: HedgeDelay;
}

/**
 * A gateway's hedge delays. Small reads (manifests, an upload's existence check) answer in a few
 * ms and a second one costs little; a chunk read moves up to a chunk, so it waits longer at least.
 * A chain PUT waits on a fsync at every hop, so it waits longer still. The ceilings, 200 ms, 1 s
 * and 2 s, also apply until 16 answers were timed.
 */
export function gatewayHedges(): GatewayHedges {
  return { small: new HedgeDelay(5, 200), chunk: new HedgeDelay(20, 1000), chain: new HedgeDelay(100, 2000) };
}

/** askInTurn's hedge options for a read of `kind`: the delay learnt so far, and a count on /metrics. */
export function hedging(
  ctx: Pick<GatewayContext, "hedges" | "metrics">,
  kind: "small" | "chunk",
): { hedgeMs: number; onHedge: () => void } {
  return { hedgeMs: ctx.hedges[kind].ms, onHedge: () => ctx.metrics.readHedges.inc({ kind }) };
}
