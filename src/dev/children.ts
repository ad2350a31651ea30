import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { extname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { SERVICE_NODE_FLAGS } from "../runtime.ts";

/** The CLI beside this module: main.ts when run from src/, main.js when compiled into dist/. */
const CLI = fileURLToPath(new URL(`../cli/main${extname(import.meta.url)}`, import.meta.url));

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** The first log line with this message (pino JSON), e.g. "node listening". */
  readonly ready: Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `dfs <args>` as a child process with its logs appended to `logFile`, and resolves
 * `ready` when it logs `readyMsg`. A child that exits first rejects `ready`.
 */
export function startDfs(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  readyMsg: string,
): Child {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(logFile, { flags: "a" });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      log.write(`${line}\n`);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === readyMsg) resolve(entry);
      } catch {
        // not JSON: keep it in the log only
      }
    });
    void exited.then((code) =>
      reject(new Error(`${name} exited with code ${code} before it was ready; see ${logFile}`)),
    );
  });
  ready.catch(() => {});
  void exited.then(() => log.end());
  return { name, process: child, ready, exited };
}

/** SIGTERM to each, SIGKILL for any still running after graceMs; resolves when all have exited. */
export async function stopChildren(children: readonly Child[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.process.exitCode !== null || c.process.signalCode !== null) return;
      c.process.kill("SIGTERM");
      const timer = setTimeout(() => c.process.kill("SIGKILL"), graceMs);
      await c.exited;
      clearTimeout(timer);
    }),
  );
}
