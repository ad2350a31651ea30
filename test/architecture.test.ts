import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = resolve(import.meta.dirname, "../src");

/** Which top-level parts of src/ each part may import. Dependencies point one way. */
const ALLOWED: Record<string, readonly string[]> = {
  "errors.ts": [],
  "logger.ts": [],
  "runtime.ts": [],
  "memory.ts": [],
  config: ["errors.ts"],
  protocol: ["errors.ts"],
  transport: ["errors.ts", "protocol", "config", "credentials"],
  crypto: ["errors.ts", "memory.ts"],
  placement: ["errors.ts"],
  credentials: ["errors.ts"],
  registry: ["errors.ts", "config", "logger.ts", "credentials"],
  node: ["errors.ts", "protocol", "transport", "config", "logger.ts", "registry", "placement", "credentials"],
  gateway: [
    "errors.ts",
    "transport",
    "crypto",
    "placement",
    "registry",
    "config",
    "logger.ts",
    "protocol",
    "memory.ts",
    "credentials",
  ],
  dev: ["errors.ts", "config", "runtime.ts", "credentials"],
  cli: ["*"],
};

async function* sources(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

const partOf = (file: string) => relative(SRC, file).split("/")[0]!;

test("src/ parts import only what they may (gateway and node never import each other)", async () => {
  const violations: string[] = [];
  for await (const file of sources(SRC)) {
    const part = partOf(file);
    const allowed = ALLOWED[part];
    assert.ok(allowed, `src/${part} is not in the architecture table of this test`);
    if (allowed.includes("*")) continue;
    const text = await readFile(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
      const target = resolve(file, "..", m[1]!);
      const targetPart = partOf(target);
      if (targetPart !== part && !allowed.includes(targetPart)) {
        violations.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
