import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const run = promisify(execFile);
const GENERATED = "src/api/openapi.d.ts";

/** Runs a package's node script from node_modules, `input` on its stdin; resolves its stdout. */
async function node(script: string, args: string[], input?: string): Promise<string> {
  const running = run(process.execPath, [join(REPO_ROOT, "node_modules", script), ...args], {
    cwd: REPO_ROOT,
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  running.child.stdin?.end(input);
  return (await running).stdout;
}

/**
 * The types the gateway, the CLI and the tests compile against are what `npm run gen:api` makes of
 * openapi.yaml now (npm ci and typecheck run it): a contract changed without them fails here.
 */
test(`${GENERATED} is a fresh generation from openapi.yaml (else: npm run gen:api)`, {
  timeout: 120_000,
}, async () => {
  const tmp = await makeTempDir("dfs-gen-api-");
  try {
    const out = join(tmp.path, "openapi.d.ts");
    await node("openapi-typescript/bin/cli.js", ["openapi.yaml", "-o", out]);
    const fresh = await readFile(out, "utf8");
    const used = await readFile(join(REPO_ROOT, GENERATED), "utf8");
    assert.ok(fresh.includes("FileCreated: {"), "the generation names the upload's answer");
    if (used !== fresh) {
      const want = fresh.split("\n");
      const have = used.split("\n");
      const at = Array.from({ length: Math.max(want.length, have.length) }, (_, i) => i).find(
        (i) => want[i] !== have[i],
      )!;
      assert.fail(
        `${GENERATED} differs from a fresh generation at line ${at + 1}: run npm run gen:api\n` +
          `  in use: ${JSON.stringify(have[at])}\n  fresh: ${JSON.stringify(want[at])}`,
      );
    }
  } finally {
    await tmp.remove();
  }
});
