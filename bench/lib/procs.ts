import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, type WriteStream } from "node:fs";
import { join, resolve } from "node:path";
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
  const log = openLog(o.name, pid);
  const exited = once(child, "exit").then(() => {
    live.delete(pid);
    log?.end();
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-16 * 1024);
    log?.write(d);
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
    const ready = await readyLine(child, o, () => stderr, log);
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
  log: WriteStream | undefined,
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
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (text) => {
      log?.write(`${text}\n`);
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (line !== null && typeof line === "object" && o.isReady(line as Record<string, unknown>)) {
        clearTimeout(timer);
        // From now on stdout (a gateway logs every request) is drained unparsed, so a chatty child
        // never blocks on a full pipe and this process, the bench's client, spends nothing on it.
        lines.close();
        if (log) child.stdout!.pipe(log, { end: false });
        else child.stdout!.resume();
        resolvePromise(line as Record<string, unknown>);
      }
    });
  });
}

/**
 * With BENCH_LOGS=DIR, each child's stdout and stderr go to DIR/<name>-<pid>.log (pino lines,
 * `--trace-gc` output with --cluster-flags); otherwise they are dropped after the ready line.
 */
function openLog(name: string, pid: number): WriteStream | undefined {
  const dir = process.env.BENCH_LOGS;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  return createWriteStream(join(dir, `${name}-${pid}.log`), { flags: "a" });
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
  /** CPU seconds by kind of thread (see threadKind), live threads only. */
  threads: Record<ThreadKind, number>;
}

const TICKS_PER_SECOND = 100; // USER_HZ; `getconf CLK_TCK` prints 100 on Linux x86-64 and arm64

/**
 * What a Node thread does, from its name: "main" (JavaScript, socket I/O, and the C++ of crypto
 * calls), "libuv" (the thread pool: file system calls, fsync), "v8" (V8 workers: concurrent GC
 * marking and sweeping, compilation), "other".
 */
export type ThreadKind = "main" | "libuv" | "v8" | "other";

function threadKind(comm: string): ThreadKind {
  if (comm === "MainThread" || comm === "node") return "main";
  if (comm.startsWith("libuv-worker")) return "libuv";
  if (comm.startsWith("V8")) return "v8";
  return "other";
}

/** Splits /proc/<pid>[/task/<tid>]/stat: the command name, then the fields after it (state is [0]). */
function readStat(path: string): { comm: string; fields: string[] } {
  const text = readFileSync(path, "utf8");
  const close = text.lastIndexOf(")");
  return { comm: text.slice(text.indexOf("(") + 1, close), fields: text.slice(close + 2).split(" ") };
}

const cpuOf = (f: string[]) => (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;

/** Reads /proc/<pid>/stat (Linux). Fields after the command name: state is 3, minflt 10, utime 14, stime 15. */
export function procStat(pid: number): ProcStat {
  let fields: string[];
  try {
    fields = readStat(`/proc/${pid}/stat`).fields;
  } catch (err) {
    throw new Error(`process ${pid} is gone (exited or killed)`, { cause: err });
  }
  const threads: Record<ThreadKind, number> = { main: 0, libuv: 0, v8: 0, other: 0 };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // gone between the two reads: the totals above still stand
  }
  for (const tid of tids) {
    try {
      const t = readStat(`/proc/${pid}/task/${tid}/stat`);
      threads[threadKind(t.comm)] += cpuOf(t.fields);
    } catch {
      // a thread that exited meanwhile
    }
  }
  return { cpuSeconds: cpuOf(fields), minorFaults: Number(fields[7]), threads };
}
