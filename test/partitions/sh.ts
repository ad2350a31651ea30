/** Runs the system tools the partition harness needs (ip, nft, tc, mount), each bounded in time. */
import { execFile } from "node:child_process";

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args`; never throws (a missing tool or a timeout is code 127 / 124). */
export function sh(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<ShResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      const code =
        err === null
          ? 0
          : typeof (err as { code?: unknown }).code === "number"
            ? ((err as { code: number }).code as number)
            : (err as { code?: unknown }).code === "ENOENT"
              ? 127
              : 124;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `cmd args` and throws with its stderr when it fails. */
export async function must(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<string> {
  const r = await sh(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs `cmd args` inside the network namespace `ns`. */
export function inNs(ns: string, cmd: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  return must("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
}
