import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

/** Which top-level parts of src/ each part may import. Dependencies point one way. */
const ALLOWED: Record<string, readonly string[]> = {
  "errors.ts": [],
  "logger.ts": [],
  "runtime.ts": [],
  "memory.ts": [],
  formats: ["errors.ts"],
  api: [],
  config: ["errors.ts"],
  protocol: ["errors.ts", "formats"],
  transport: ["errors.ts", "formats", "protocol", "config", "credentials"],
  crypto: ["errors.ts", "formats", "memory.ts"],
  placement: ["errors.ts", "formats"],
  credentials: ["errors.ts"],
  registry: ["errors.ts", "formats", "config", "logger.ts", "credentials"],
  tables: ["errors.ts", "formats", "protocol", "transport", "placement"],
  names: ["errors.ts", "formats", "tables", "access"],
  access: ["errors.ts", "crypto", "tables"],
  node: [
    "errors.ts",
    "formats",
    "protocol",
    "transport",
    "config",
    "logger.ts",
    "registry",
    "placement",
    "credentials",
    "tables",
  ],
  gateway: [
    "errors.ts",
    "formats",
    "api",
    "transport",
    "crypto",
    "placement",
    "registry",
    "config",
    "logger.ts",
    "protocol",
    "memory.ts",
    "credentials",
    "tables",
    "names",
    "access",
  ],
  s3: ["errors.ts", "logger.ts", "config", "access", "names", "gateway"],
  console: ["errors.ts", "logger.ts", "config", "access", "crypto", "formats", "registry", "gateway", "s3"],
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

/**
 * The "may import" table of ARCHITECTURE.md, as part -> allowed parts: rows whose first cell is a
 * `src/...` path, the last cell a comma-separated list ("nothing": none, "everything": "*").
 */
function parseImportTable(markdown: string): Record<string, string[]> {
  const lines = markdown.split("\n");
  const header = lines.findIndex((l) => /^\|\s*part\s*\|.*\|\s*may import\s*\|\s*$/.test(l));
  assert.ok(header >= 0, 'ARCHITECTURE.md has no table with a "part" and a "may import" column');
  const table: Record<string, string[]> = {};
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    const part = /^`src\/([^`/]+)\/?`$/.exec(cells[0]!)?.[1];
    assert.ok(part, `ARCHITECTURE.md: a row of the import table names no src/ part: ${line}`);
    assert.ok(!(part in table), `ARCHITECTURE.md: src/${part} is in the import table twice`);
    const may = cells.at(-1)!;
    table[part] =
      may === "nothing"
        ? []
        : may === "everything"
          ? ["*"]
          : may.split(",").map((p) => p.trim().replaceAll("`", ""));
  }
  return table;
}

test("ARCHITECTURE.md's import table says what this test enforces", async () => {
  const documented = parseImportTable(await readFile(join(ROOT, "ARCHITECTURE.md"), "utf8"));
  const sorted = (t: Record<string, readonly string[]>) =>
    Object.fromEntries(
      Object.entries(t)
        .map(([part, may]) => [part, [...may].sort()] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  assert.deepEqual(sorted(documented), sorted(ALLOWED));
});

test("the import table parser reads rows, nothing and everything, and refuses a stray row", () => {
  const md = [
    "| part | job | may import |",
    "|---|---|---|",
    "| `src/errors.ts` | codes | nothing |",
    "| `src/node/` | the node | errors.ts, `protocol` |",
    "| `src/cli/` | the command | everything |",
    "",
    "| `src/gateway/` | after the table | nothing |",
  ].join("\n");
  assert.deepEqual(parseImportTable(md), { "errors.ts": [], node: ["errors.ts", "protocol"], cli: ["*"] });
  assert.throws(() => parseImportTable(md.replace("`src/node/`", "node")), /names no src\/ part/);
  assert.throws(() => parseImportTable("# no table"), /no table/);
});
