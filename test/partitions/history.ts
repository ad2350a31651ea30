/**
 * The history of a partition run: every client operation with its invoke and completion times (ms
 * since the run began), its outcome and what it saw, and the fault windows.
 */

export type WriteKind = "upload" | "delete" | "put" | "kdelete";
export type ReadKind = "download" | "stat" | "get" | "list";
export type OpKind = WriteKind | ReadKind;

/**
 * ok: answered as asked (a read's 404 is ok: it saw "absent"); fail: refused (the write may still
 * have happened, e.g. a 503 after some copies were stored); unknown: no answer (timeout, cut).
 */
export type Outcome = "ok" | "fail" | "unknown";

/** What a read saw or a write wrote: the bytes' sha256, or ABSENT. */
export const ABSENT = "absent";

export interface Op {
  id: number;
  /** The client (its own files and keys); -1 for the final checks. */
  client: number;
  gateway: number;
  kind: OpKind;
  /** A file's hash, or a key (list: the prefix). */
  target: string;
  /** upload/put: sha256 of the bytes sent; download/stat/get: what was seen; delete: ABSENT. */
  value?: string;
  /** list: the keys returned. */
  keys?: string[];
  invokeMs: number;
  endMs: number;
  outcome: Outcome;
  status?: number;
  error?: string;
}

export interface FaultWindow {
  name: string;
  startMs: number;
  healMs: number;
  /** Ms after healing until the files acknowledged while it lasted had R copies; unset: not seen. */
  copiesMs?: number;
  /** Faults on the Redis master: ms until the Sentinels named another. */
  failoverMs?: number | undefined;
}

export const isWrite = (k: OpKind): k is WriteKind =>
  k === "upload" || k === "delete" || k === "put" || k === "kdelete";

/** Collects operations; `now()` is ms since the run began. */
export class History {
  readonly ops: Op[] = [];
  readonly faults: FaultWindow[] = [];
  readonly #origin: number;
  #next = 0;

  constructor(origin = performance.now()) {
    this.#origin = origin;
  }

  now(): number {
    return performance.now() - this.#origin;
  }

  /** Runs `run` as one operation, recording its times; run returns the fields it learnt. */
  async record(
    base: Pick<Op, "client" | "gateway" | "kind" | "target" | "value">,
    run: () => Promise<Pick<Op, "outcome"> & Partial<Op>>,
  ): Promise<Op> {
    const invokeMs = this.now();
    const id = this.#next++;
    let result: Pick<Op, "outcome"> & Partial<Op>;
    try {
      result = await run();
    } catch (err) {
      result = { outcome: "unknown", error: (err as Error).message };
    }
    const op: Op = { ...base, ...result, id, invokeMs, endMs: this.now() };
    this.ops.push(op);
    return op;
  }
}

/** One line per operation, for the anomaly reports. */
export function formatOp(op: Op): string {
  const seen = op.keys ? ` [${op.keys.length} keys]` : op.value ? ` ${op.value.slice(0, 12)}` : "";
  const why = op.error ? ` (${op.error.slice(0, 80)})` : "";
  return `#${op.id} c${op.client} g${op.gateway} ${op.invokeMs.toFixed(0)}-${op.endMs.toFixed(0)}ms ${op.kind} ${op.target.slice(0, 24)}${seen} -> ${op.outcome}${op.status ? ` ${op.status}` : ""}${why}`;
}
