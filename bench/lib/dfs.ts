import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { REPO_ROOT } from "./procs.ts";

/**
 * What the bench's `dfs node` and `dfs gateway` children run: the compiled JavaScript, as the Docker
 * image does, or the TypeScript sources, as development and the tests do. Type stripping costs every
 * process RSS (bench/README.md), so RSS targets are judged on "dist".
 */
export type DfsFrom = "src" | "dist";

/** The first is the default. */
export const DFS_FROM: readonly DfsFrom[] = ["dist", "src"];

/** The CLI entry, relative to the repository root. */
export function dfsEntry(from: DfsFrom): string {
  return from === "dist" ? "dist/cli/main.js" : "src/cli/main.ts";
}

const BUILD_TIMEOUT_MS = 180_000;

/**
 * `npm run build` (tsc -p tsconfig.build.json, incremental) with this process's Node, so the bench
 * never measures a stale dist/. tsc's output goes to stderr: stdout is the bench's tables.
 */
export async function buildDist(): Promise<void> {
  const tsc = join(REPO_ROOT, "node_modules/typescript/bin/tsc");
  const child = spawn(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", 2, 2],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `npm run build failed (tsc ${signal ? `killed by ${signal}` : `exited ${code}`}); ` +
        "--from src runs the TypeScript sources without a build",
    );
  }
}
