/**
 * Fault schedules: the short one (every fault once, in an order and on targets drawn from the
 * seed) and a random one filling N minutes. One fault at a time: it lasts `faultMs`, then the
 * cluster gets `gapMs` healed before the next.
 */
import { DISK_FULL_TARGET, FAULT_KINDS, type FaultKind, type FaultSpec } from "./faults.ts";
import { Random } from "./random.ts";

export interface Step {
  /** Ms after the schedule starts. */
  atMs: number;
  fault: FaultSpec;
  durationMs: number;
}

export interface ScheduleOptions {
  faultMs: number;
  gapMs: number;
  /** Nodes a node fault may hit, and the zones a gateway may be cut from. */
  nodes: readonly string[];
  zones: readonly string[];
}

function target(kind: FaultKind, r: Random, o: ScheduleOptions): string {
  if (kind === "disk-full") return DISK_FULL_TARGET;
  if (kind === "gateway-cut-from-zone") return r.pick(o.zones);
  if (kind === "split-brain" || kind === "stop-master") return "master";
  return r.pick(o.nodes.filter((n) => n !== DISK_FULL_TARGET));
}

function place(kinds: readonly FaultKind[], r: Random, o: ScheduleOptions): Step[] {
  let at = 0;
  return kinds.map((kind) => {
    const step = { atMs: at, fault: { kind, target: target(kind, r, o) }, durationMs: o.faultMs };
    at += o.faultMs + o.gapMs;
    return step;
  });
}

/** Every fault once, in a seeded order. */
export function shortSchedule(seed: number, o: ScheduleOptions): Step[] {
  const r = new Random(seed);
  const kinds = [...FAULT_KINDS];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return place(kinds, r, o);
}

/** Random faults for `minutes`: as many as fit, each kind drawn from the seed. */
export function randomSchedule(seed: number, minutes: number, o: ScheduleOptions): Step[] {
  const r = new Random(seed);
  const count = Math.max(1, Math.floor((minutes * 60_000) / (o.faultMs + o.gapMs)));
  return place(
    Array.from({ length: count }, () => r.pick(FAULT_KINDS)),
    r,
    o,
  );
}

/** How long a schedule runs, healing included. */
export const scheduleMs = (steps: readonly Step[], gapMs: number) =>
  steps.reduce((end, s) => Math.max(end, s.atMs + s.durationMs + gapMs), 0);
