import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** Every child the bench started, so a failure or Ctrl-C still stops them (by pid, never by name). */
const live = new Map<number, { child: ChildProcess; stop: () => Promise<void> }>();
process.on("exit", () => {
  for (const { child } of live.values()) child.kill("SIGKILL");
});

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** The "listening" line the child printed (pino JSON for nodes, plain JSON for baselines). */
  readonly ready: Record<string, unknown>;
  readonly address: string;
  /** SIGTERM, then SIGKILL after graceMs. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** Script and its arguments, relative to the repository root. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Flags for node itself, before the script (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Matches the line that says the child is ready; it must carry `address`. */
  isReady: (line: Record<string, unknown>) => boolean;
  timeoutMs?: number;
}

/** Starts a long-lived child (same node binary as this process) and waits for its ready line. */
export async function startChild(o: StartOptions): Promise<Child> {
  const child = spawn(process.execPath, [...(o.nodeFlags ?? []), ...o.args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${o.name}: could not start`);
  const exited = once(child, "exit").then(() => void live.delete(pid));
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-16 * 1024);
    // Surface a child's complaints (a failing hop, a node error) while the bench runs.
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${o.name}] ${d}`);
  });
  const stop = async (graceMs = 10_000) => {
    if (!live.has(pid)) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  live.set(pid, { child, stop: () => stop() });
  try {
    const ready = await readyLine(child, o, () => stderr);
    return { name: o.name, pid, ready, address: String(ready.address), stop };
  } catch (err) {
    await stop(1000);
    throw err;
  }
}

function readyLine(
  child: ChildProcess,
  o: StartOptions,
  stderr: () => string,
): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${o.name}: not ready after ${o.timeoutMs ?? 15_000} ms; stderr: ${stderr()}`)),
      o.timeoutMs ?? 15_000,
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${o.name} exited (${code}) before it was ready; stderr: ${stderr()}`));
    });
    // Every stdout line is read, ready or not, so a chatty child never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on("line", (text) => {
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (line !== null && typeof line === "object" && o.isReady(line as Record<string, unknown>)) {
        clearTimeout(timer);
        resolvePromise(line as Record<string, unknown>);
      }
    });
  });
}

/** Stops every child still running, in parallel. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live.values()].map((c) => c.stop()));
}

export interface ProcStat {
  /** User + system CPU seconds so far, all threads. */
  cpuSeconds: number;
  /** Minor page faults so far: first touches of memory, the cost that dominates on this machine. */
  minorFaults: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ; `getconf CLK_TCK` prints 100 on Linux x86-64 and arm64

/** Reads /proc/<pid>/stat (Linux). Fields after the command name: state is 3, minflt 10, utime 14, stime 15. */
export function procStat(pid: number): ProcStat {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (err) {
    throw new Error(`process ${pid} is gone (exited or killed)`, { cause: err });
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND,
    minorFaults: Number(f[7]),
  };
}
