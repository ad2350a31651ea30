import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const run = promisify(execFile);

/**
 * What the Docker image runs: tsconfig.build.json's output. Built here into a temp dir (never into
 * dist/, so no test depends on `npm run build`), beside a package.json with "type": "module" and the
 * repository's node_modules, as in the image. --noCheck: `npm run typecheck` checks the types.
 */
test("the compiled JavaScript (npm run build) runs the dfs commands", { timeout: 120_000 }, async () => {
  const tmp = await makeTempDir("dfs-build-");
  try {
    const out = join(tmp.path, "dist");
    const tsc = join(REPO_ROOT, "node_modules/typescript/bin/tsc");
    // The options are tsconfig.build.json's, but for where the output goes.
    await run(
      process.execPath,
      [tsc, "-p", "tsconfig.build.json", "--noCheck", "--incremental", "false", "--outDir", out],
      {
        cwd: REPO_ROOT,
        timeout: 100_000,
      },
    ).catch((err: { stdout?: string }) => assert.fail(`tsc failed:\n${err.stdout ?? String(err)}`));
    await writeFile(join(tmp.path, "package.json"), JSON.stringify({ type: "module" }));
    await symlink(join(REPO_ROOT, "node_modules"), join(tmp.path, "node_modules"), "dir");

    // No path to a .ts file survives compilation (dist/ has none): a sibling found by URL must use
    // the current module's extension, as src/dev/children.ts does.
    const files = (await readdir(out, { recursive: true })).filter((f) => f.endsWith(".js"));
    assert.ok(files.includes(join("cli", "main.js")), "dist/cli/main.js exists");
    for (const f of files) {
      const text = await readFile(join(out, f), "utf8");
      const literal = /(["'`])[^"'`\n]*\.ts\1/.exec(text);
      assert.equal(literal, null, `${f} names a .ts file: ${literal?.[0]}`);
    }

    const main = join(out, "cli/main.js");
    const help = await run(process.execPath, [main, "--help"], { encoding: "utf8", timeout: 30_000 });
    assert.match(help.stdout, /^usage: dfs <command>/);
    // Each command's module loads (imports resolve to .js files, dependencies from node_modules).
    for (const command of ["gateway", "node", "dev", "put", "get", "stat", "rm", "nodes", "status"]) {
      const r = await run(process.execPath, [main, command, "--help"], { encoding: "utf8", timeout: 30_000 });
      assert.match(r.stdout, new RegExp(`^usage: dfs ${command}\\b`), `dfs ${command} --help`);
    }
  } finally {
    await tmp.remove();
  }
});
