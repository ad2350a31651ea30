import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const CLI = resolve(REPO_ROOT, "src/cli/main.ts");

/** Every process a test started, so a failing test still stops them (by pid, never by name). */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every stdout line parsed as JSON when it is JSON (pino logs), in order. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the first log line matching, waiting up to timeoutMs. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends a signal and waits for exit; SIGKILL after graceMs. Safe to call twice. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export interface StartProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A command that runs node in turn and becomes it (exec), e.g. `ip netns exec NS`: pid stays node's. */
  wrap?: readonly string[];
}

export function startProcess(args: string[], options: StartProcessOptions = {}): Proc {
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
  const child = spawn(command!, [...prefix, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderrText = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderrText = (stderrText + d).slice(-64 * 1024);
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === "object") logs.push(parsed as Record<string, unknown>);
    } catch {
      logs.push({ msg: line, raw: true });
    }
    for (const w of waiters) w();
  });
  const exited = once(child, "exit").then(([code, signal]) => {
    live.delete(child);
    for (const w of waiters) w();
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  let exitedYet = false;
  void exited.then(() => {
    exitedYet = true;
  });

  return {
    child,
    pid: child.pid!,
    logs,
    exited,
    stderr: () => stderrText,
    waitForLog(match, timeoutMs = 15_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (found) {
            cleanup();
            resolvePromise(found);
          } else if (exitedYet) {
            cleanup();
            reject(
              new Error(`process ${child.pid} exited before the expected log line; stderr: ${stderrText}`),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line; stderr: ${stderrText}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (!exitedYet) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return (await exited).code;
    },
  };
}
