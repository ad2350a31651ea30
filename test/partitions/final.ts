/**
 * After the faults healed: every file and key any client touched is read through every gateway
 * (recorded as client -1, so the checker holds the answers to the same rules), every listing must
 * hold every acknowledged key, and the files that must exist are watched until each chunk has R
 * copies.
 */
import { setTimeout as delay } from "node:timers/promises";
import * as api from "./api.ts";
import { ABSENT, type History, type Op } from "./history.ts";

const FINAL_CLIENT = -1;
/** Reads tried this often (a second apart) before an unanswered one counts. */
const FINAL_TRIES = 5;

async function retried(run: () => Promise<Op>, history: History): Promise<void> {
  for (let i = 1; ; i++) {
    const op = await run();
    if (op.outcome === "ok" || i >= FINAL_TRIES) return;
    // Only the last attempt stays in the history: earlier ones are the settling, not the answer.
    history.ops.splice(history.ops.indexOf(op), 1);
    await delay(1000);
  }
}

/** Reads every target through every gateway. */
export async function finalReads(history: History, urls: readonly string[]): Promise<void> {
  const files = new Set(history.ops.filter((o) => o.kind === "upload").map((o) => o.target));
  const keys = new Set(history.ops.filter((o) => o.kind === "put").map((o) => o.target));
  for (const [gateway, url] of urls.entries()) {
    const call: api.Call = { history, client: FINAL_CLIENT, gateway, url };
    const work = [
      ...[...files].map((h) => () => retried(() => api.download(call, h), history)),
      ...[...keys].map((k) => () => retried(() => api.getKey(call, k), history)),
      () => retried(() => api.listKeys(call, ""), history),
    ];
    // A few at a time: the final pass must not itself be the overload.
    for (let i = 0; i < work.length; i += 16) await Promise.all(work.slice(i, i + 16).map((w) => w()));
  }
}

/** Files that must exist now: their last write an acknowledged upload, no delete tried since. */
export function surelyPresent(ops: readonly Op[]): string[] {
  const last = new Map<string, Op>();
  for (const o of [...ops].sort((a, b) => a.invokeMs - b.invokeMs)) {
    if (o.client >= 0 && (o.kind === "upload" || o.kind === "delete")) last.set(o.target, o);
  }
  return [...last.values()]
    .filter((o) => o.kind === "upload" && o.outcome === "ok" && o.value !== ABSENT)
    .map((o) => o.target);
}

/**
 * Ms until every chunk of every file in `hashes` has `replicas` copies (asked through `url`), or
 * undefined when not by `timeoutMs`. Files already seen complete are not asked again, nor those
 * `dropped` says a client has since deleted (they rightly go below R copies).
 */
export async function untilCopies(
  url: string,
  hashes: readonly string[],
  replicas: number,
  timeoutMs: number,
  dropped: (hash: string) => boolean = () => false,
): Promise<number | undefined> {
  const started = performance.now();
  const pending = new Set(hashes);
  const late = () => performance.now() - started > timeoutMs;
  while (pending.size > 0) {
    for (const h of pending) if (dropped(h)) pending.delete(h);
    const round = [...pending];
    // 16 at a time: a thousand files are asked about in seconds, not one after another.
    for (let i = 0; i < round.length && !late(); i += 16) {
      await Promise.all(
        round.slice(i, i + 16).map(async (h) => {
          const copies = await api.chunkCopies(url, h);
          if (copies?.every((n) => n >= replicas)) pending.delete(h);
        }),
      );
    }
    if (late()) return pending.size === 0 ? performance.now() - started : undefined;
    if (pending.size > 0) await delay(250);
  }
  return performance.now() - started;
}
