/**
 * Per fault: the share of requests that succeeded while it lasted (all, and uploads with downloads
 * alone), how long after it began writes and reads succeeded again, and how long after it healed
 * the files written meanwhile were back at R copies. Printed as a markdown table.
 */
import { type FaultWindow, isWrite, type Op } from "./history.ts";

export interface FaultRow {
  name: string;
  durationMs: number;
  ops: number;
  /** Share of the operations invoked while it lasted that succeeded. */
  okShare: number;
  /** The same for uploads and downloads only. */
  transferOkShare: number;
  /** Ms from its start until writes (reads) succeeded again for good; 0 when none failed. */
  writesBackMs: number;
  readsBackMs: number;
  /** The longest a write invoked while it lasted took to be answered (a stall shows here). */
  slowestWriteMs: number;
  copiesMs: number | undefined;
}

const ok = (o: Op) => o.outcome === "ok";

/**
 * Ms from `start` to the invocation of the first op after the last failed one among `ops` (invoked
 * in [start, end)); 0 when none failed; end - start when the failures went on to the end.
 */
export function backAfter(ops: readonly Op[], start: number, end: number): number {
  const inWindow = ops
    .filter((o) => o.invokeMs >= start && o.invokeMs < end)
    .sort((a, b) => a.invokeMs - b.invokeMs);
  let lastFail = -1;
  for (const [i, o] of inWindow.entries()) if (!ok(o)) lastFail = i;
  if (lastFail === -1) return 0;
  const next = inWindow[lastFail + 1];
  return next ? Math.max(0, next.invokeMs - start) : end - start;
}

/**
 * One row per fault window. Recovery is looked for up to the next fault (or `horizonMs` after the
 * heal for the last one), since an op invoked late in the window may finish after the heal.
 */
export function faultRows(ops: readonly Op[], faults: readonly FaultWindow[], horizonMs: number): FaultRow[] {
  const clientOps = ops.filter((o) => o.client >= 0);
  return faults.map((f, i) => {
    const during = clientOps.filter((o) => o.invokeMs >= f.startMs && o.invokeMs < f.healMs);
    const transfers = during.filter((o) => o.kind === "upload" || o.kind === "download");
    const until = faults[i + 1]?.startMs ?? f.healMs + horizonMs;
    return {
      name: f.name,
      durationMs: f.healMs - f.startMs,
      ops: during.length,
      okShare: during.length ? during.filter(ok).length / during.length : 1,
      transferOkShare: transfers.length ? transfers.filter(ok).length / transfers.length : 1,
      writesBackMs: backAfter(
        clientOps.filter((o) => isWrite(o.kind)),
        f.startMs,
        until,
      ),
      readsBackMs: backAfter(
        clientOps.filter((o) => !isWrite(o.kind)),
        f.startMs,
        until,
      ),
      slowestWriteMs: Math.max(0, ...during.filter((o) => isWrite(o.kind)).map((o) => o.endMs - o.invokeMs)),
      copiesMs: f.copiesMs,
    };
  });
}

/** Faults that take one node away (partitioned, stopped, killed, deaf). */
export const ONE_NODE_FAULTS = ["partition-node", "stop-node", "kill-restart-node", "one-way-loss"];

/** Uploads and downloads invoked while a one-node fault lasted: how many, how many succeeded. */
export function oneNodeTransfers(
  ops: readonly Op[],
  faults: readonly FaultWindow[],
): { ok: number; total: number } {
  const windows = faults.filter((f) => ONE_NODE_FAULTS.some((k) => f.name.startsWith(`${k} `)));
  const during = ops.filter(
    (o) =>
      o.client >= 0 &&
      (o.kind === "upload" || o.kind === "download") &&
      windows.some((f) => o.invokeMs >= f.startMs && o.invokeMs < f.healMs),
  );
  return { ok: during.filter(ok).length, total: during.length };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const sec = (ms: number | undefined) => (ms === undefined ? "not seen*" : `${(ms / 1000).toFixed(1)} s`);

export function reportTable(rows: readonly FaultRow[]): string {
  return [
    "| fault | lasted | ops | succeeded | uploads+downloads ok | writes back after | reads back after | slowest write | R copies after heal |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${sec(r.durationMs)} | ${r.ops} | ${pct(r.okShare)} | ${pct(r.transferOkShare)} | ${sec(r.writesBackMs)} | ${sec(r.readsBackMs)} | ${sec(r.slowestWriteMs)} | ${sec(r.copiesMs)} |`,
    ),
    "",
    "Shares count the requests invoked while the fault lasted. Back after: from the fault's start to the first request after the last failed one. R copies: files uploaded during the fault (12 at most, less those deleted since), from the heal; *not seen before the next fault started (the final check covers every file).",
  ].join("\n");
}
