/**
 * Checks a partition run's history. Each client owns its files and keys and runs one operation at a
 * time, so what a target may hold at any moment is known: after an acknowledged write exactly what
 * it wrote, after a refused or unanswered one either that or what was there before. Every read (a
 * client's, or a final one after the faults healed, client -1) must see one of those; a listing
 * must hold every key that is surely there. Final reads must also be answered (healed means served).
 */
import { ABSENT, formatOp, type Op } from "./history.ts";

export interface Anomaly {
  kind:
    | "lost-write"
    | "resurrected-delete"
    | "unwritten-bytes"
    | "stale-read"
    | "listing-missing-key"
    | "final-unanswered";
  op: Op;
  message: string;
}

/** The values a target may hold; starts as {ABSENT}. */
type Possible = Set<string>;

function apply(possible: Possible, op: Op): Possible {
  const wrote = op.kind === "upload" || op.kind === "put" ? op.value! : ABSENT;
  if (op.outcome === "ok") return new Set([wrote]);
  return new Set([...possible, wrote]);
}

function classify(
  op: Op,
  possible: Possible,
  seen: string,
  written: ReadonlySet<string>,
): Anomaly | undefined {
  if (possible.has(seen)) return undefined;
  const show = [...possible].map((v) => v.slice(0, 12)).join("|");
  if (seen === ABSENT) {
    return { kind: "lost-write", op, message: `saw nothing where ${show} must be` };
  }
  if (!written.has(seen)) {
    return {
      kind: "unwritten-bytes",
      op,
      message: `saw bytes ${seen.slice(0, 12)} no client wrote to ${op.target}`,
    };
  }
  if (possible.size === 1 && possible.has(ABSENT)) {
    return {
      kind: "resurrected-delete",
      op,
      message: `saw ${seen.slice(0, 12)} after an acknowledged delete`,
    };
  }
  return { kind: "stale-read", op, message: `saw ${seen.slice(0, 12)} where ${show} must be` };
}

/** The anomalies of a history, in order of the operations' completion. */
export function check(ops: readonly Op[]): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const state = new Map<string, Possible>();
  /** Every value ever written to each target (acknowledged or not). */
  const written = new Map<string, Set<string>>();
  const ordered = [...ops].sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  for (const op of ordered) {
    const key = `${op.kind === "upload" || op.kind === "delete" || op.kind === "download" || op.kind === "stat" ? "f" : "k"}:${op.target}`;
    const possible = state.get(key) ?? new Set([ABSENT]);
    switch (op.kind) {
      case "upload":
      case "put":
      case "delete":
      case "kdelete": {
        if (op.value) {
          const w = written.get(key) ?? new Set<string>();
          w.add(op.value);
          written.set(key, w);
        }
        state.set(key, apply(possible, op));
        break;
      }
      case "download":
      case "stat":
      case "get": {
        if (op.outcome !== "ok") {
          if (op.client === -1)
            anomalies.push({
              kind: "final-unanswered",
              op,
              message: "a gateway did not answer after healing",
            });
          break;
        }
        const a = classify(op, possible, op.value ?? ABSENT, written.get(key) ?? new Set());
        if (a) anomalies.push(a);
        break;
      }
      case "list": {
        if (op.outcome !== "ok") {
          if (op.client === -1)
            anomalies.push({ kind: "final-unanswered", op, message: "a gateway did not list after healing" });
          break;
        }
        const listed = new Set(op.keys ?? []);
        for (const [k, p] of state) {
          if (!k.startsWith(`k:${op.target}`) || p.has(ABSENT) || listed.has(k.slice(2))) continue;
          anomalies.push({
            kind: "listing-missing-key",
            op,
            message: `listing lacks acknowledged key ${k.slice(2)}`,
          });
        }
        break;
      }
    }
  }
  return anomalies;
}

/** An anomaly with the history of its target around it (every op on it, and ops near in time). */
export function explain(anomaly: Anomaly, ops: readonly Op[], nearMs = 2000): string {
  const { op } = anomaly;
  const sameTarget = ops.filter((o) => o.target === op.target);
  const near = ops.filter(
    (o) => o.target !== op.target && o.endMs >= op.invokeMs - nearMs && o.invokeMs <= op.endMs + nearMs,
  );
  return [
    `ANOMALY ${anomaly.kind}: ${anomaly.message}`,
    `  at ${formatOp(op)}`,
    "  history of this target:",
    ...sameTarget.sort((a, b) => a.invokeMs - b.invokeMs).map((o) => `    ${formatOp(o)}`),
    `  other operations within ${nearMs} ms (${near.length}, first 20):`,
    ...near.slice(0, 20).map((o) => `    ${formatOp(o)}`),
  ].join("\n");
}
