/**
 * For test/s3-clients.test.ts: finding the real S3 clients (aws, s3cmd, rclone, restic), running
 * one as a child process with a timeout and an environment of its own (HOME in a temp dir, so
 * nothing under ~/ is read or written), and comparing directory trees by the SHA-256 of each file.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/** Whether `bin --version` (or `version`) runs and exits 0 within 20 s. */
function works(bin: string, args: string[]): boolean {
  try {
    execFileSync(bin, args, { stdio: "ignore", timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** The first executable named `name` on PATH, else undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * A client's binary when installed and working. Debian's /usr/bin/aws is preferred: a pyenv shim
 * named aws may come first on PATH and fail for want of an installed version.
 */
export function findClient(name: "aws" | "s3cmd" | "rclone" | "restic"): string | undefined {
  const versionArgs = name === "restic" || name === "rclone" ? ["version"] : ["--version"];
  const candidates = [`/usr/bin/${name}`, onPath(name)].filter((p): p is string => p !== undefined);
  for (const bin of new Set(candidates)) {
    if (existsSync(bin) && works(bin, versionArgs)) return bin;
  }
  return undefined;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Resolve on a non-zero exit too (the caller checks the code). */
  allowFailure?: boolean;
}

/**
 * Runs `bin args` with exactly `env` (plus PATH), killing it by pid after timeoutMs. Rejects with
 * the command, exit code and output tails unless it exits 0 (or allowFailure).
 */
export function runClient(bin: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-64 * 1024);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      const shown = `${bin} ${args.join(" ")}`;
      if (timedOut)
        return reject(new Error(`${shown}: killed after ${timeoutMs} ms\n${stderr.slice(-4000)}`));
      if (code !== 0 && options.allowFailure !== true) {
        return reject(
          new Error(`${shown}: exit ${code}\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`),
        );
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file under `root`, by its path relative to root ("/"-separated), with its SHA-256. */
export async function treeDigest(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) {
        out.set(
          relative(root, p),
          createHash("sha256")
            .update(await readFile(p))
            .digest("hex"),
        );
      }
    }
  };
  await walk(root);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * A skip message for tests whose clients are missing (apt packages named), or false when none is.
 * .ci/run sets DFS_S3_CLIENTS=required after installing them: there a missing one fails instead.
 */
export function skipWithout(packages: readonly string[]): string | false {
  if (packages.length === 0) return false;
  const message = `not installed: ${packages.join(", ")} (apt-get install ${packages.join(" ")}; .ci/run does)`;
  if (process.env.DFS_S3_CLIENTS === "required") throw new Error(`DFS_S3_CLIENTS=required, but ${message}`);
  return message;
}
