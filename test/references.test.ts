/**
 * Comments and docs state what is true now and point only at files in the repo: every repo path
 * a comment (in src/, test/, bench/, bin/) or a doc (the Markdown files, openapi.yaml) names must
 * exist, and none may tell the story of how the code came to be.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");
const CODE_DIRS = ["src", "test", "bench", "bin"];
/** Not in the repo by design: build output, dependencies, what `dfs dev` and the bench write. */
const SKIP_DIRS = new Set(["node_modules", ".git", "dist", ".dfs", "tmp", ".ci"]);
/** Journals dated in their name tell what happened when; their paths are still checked. */
const DATED = /-\d{4}-\d{2}(?:-\d{2})?\.md$/;

/** The comments of a TypeScript or JavaScript file, as the compiler's scanner sees them. */
function commentsOf(fileName: string, text: string): { pos: number; text: string }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const seen = new Set<number>();
  const out: { pos: number; text: string }[] = [];
  const take = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      out.push({ pos: r.pos, text: text.slice(r.pos, r.end) });
    }
  };
  const visit = (node: ts.Node) => {
    take(ts.getLeadingCommentRanges(text, node.pos));
    take(ts.getTrailingCommentRanges(text, node.end));
    for (const child of node.getChildren(sf)) visit(child);
  };
  visit(sf);
  return out;
}

/** Repo-looking paths: a top-level folder of the repo, or any slashed path with a file extension. */
const PATH =
  /(?<![\w@.$/<>{}*-])(?:(?:\.\.?\/)+[\w-][\w./-]*|(?:src|test|bench|docs|bin)\/[\w./-]*|[\w-]+(?:\/[\w.-]+)*\/[\w-][\w.-]*\.(?:ts|js|mjs|md|json|ya?ml|sh))(?![\w/-])/g;
/** A Markdown document named without a folder (README.md, or a journal beside the doc naming it). */
const BARE_DOC = /(?<![\w./-])[\w-][\w.-]*\.md\b/g;
/** The target of a Markdown link, anchor left off: `[text](target#anchor)`. */
const MD_LINK = /\]\(([^)\s#]+)(?:#[^)\s]*)?\)/g;
/** Paths of a particular machine. */
const MACHINE = /(?<![\w.-])\/(?:home|Users|root|work|mnt|opt\/[\w-]+\/src)\/[\w./-]+/g;
const URL = /\b(?:[a-z][a-z0-9+.-]*:\/\/|(?:[\w-]+\.)+(?:com|org|io|net|dev)\/)[^\s)>\]"'`]+/gi;
/** Where a path is a name (a package, a route, a placeholder) rather than a file of this repo. */
const NOT_A_FILE = /^(?:node_modules|dist)\//;

/** Words that tell history instead of the present. */
const HISTORY: readonly RegExp[] = [
  /\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|\d+(?:st|nd|rd|th)|last|previous|earlier)\s+session\b/i,
  /\bsessions? ago\b/i,
  /\bsession \d+\b/i,
  /\bused to be\b/i,
  /\b(?:it|this|we|they|that|which|he|she) used to\b/i,
  /\bwas ~?\d[\d,.]*\s*(?:%|[KMG]i?B|ms|µs|s|x)?\s+before\b/i,
  /\bwas ~?\d[\d,.]* (?:until|in the)\b/i,
  /\((?:it )?was ~?\d[^)]*\)/i,
  /\bwas ~?\d[\d,.]*[^.;\n]{0,24}\bnow\b/i,
  /\bthe (?:old|new|previous) (?:code|version|implementation)\b/i,
  /\b(?:previously|formerly|originally)\b/i,
  /\bGo original\b/i,
  /\b(?:before|after|since) (?:the|this|that) (?:fix|change|rewrite|refactor(?:ing)?)\b/i,
  /\b(?:we|I) (?:changed|replaced|rewrote|removed|added)\b/i,
];

interface Problem {
  file: string;
  line: number;
  what: string;
}

/** The problems in one piece of text (a comment, or a whole doc) starting at `line` of `file`. */
function problemsIn(file: string, text: string, line: number, checkHistory: boolean): Problem[] {
  const problems: Problem[] = [];
  const plain = text.replace(URL, (u) => " ".repeat(u.length));
  const lineOf = (index: number) => line + (plain.slice(0, index).match(/\n/g)?.length ?? 0);
  const fromDir = dirname(join(ROOT, file));
  for (const m of plain.matchAll(PATH)) {
    const path = m[0].replace(/[.]+$/, "");
    if (NOT_A_FILE.test(path)) continue;
    const relativeToFile =
      path.startsWith(".") || file.endsWith(".md") || !/^(?:src|test|bench|docs|bin)\//.test(path);
    const candidates = [join(ROOT, path), ...(relativeToFile ? [join(fromDir, path)] : [])];
    if (!candidates.some((c) => existsSync(c)))
      problems.push({ file, line: lineOf(m.index), what: `names ${path}, which is not in the repo` });
  }
  for (const m of plain.matchAll(BARE_DOC)) {
    if (!existsSync(join(ROOT, m[0])) && !existsSync(join(fromDir, m[0])))
      problems.push({ file, line: lineOf(m.index), what: `names ${m[0]}, which is not in the repo` });
  }
  if (file.endsWith(".md")) {
    for (const m of plain.matchAll(MD_LINK)) {
      const target = m[1]!;
      if (!/^[a-z]+:/.test(target) && !existsSync(join(fromDir, target)))
        problems.push({ file, line: lineOf(m.index), what: `links to ${target}, which is not in the repo` });
    }
  }
  for (const m of plain.matchAll(MACHINE))
    problems.push({
      file,
      line: lineOf(m.index),
      what: `names a path of some machine: ${m[0].replace(/[.]+$/, "")}`,
    });
  if (checkHistory) {
    const told: [number, number][] = []; // one finding per stretch of text, however many words match it
    for (const word of HISTORY) {
      for (const m of plain.matchAll(new RegExp(word.source, "gi"))) {
        const [from, to] = [m.index, m.index + m[0].length];
        if (told.some(([a, b]) => from < b && a < to)) continue;
        told.push([from, to]);
        problems.push({ file, line: lineOf(m.index), what: `tells history: "${m[0]}"` });
      }
    }
  }
  return problems;
}

/** The problems of one file: its comments when it is code, all of it when it is a doc. */
function problemsOfFile(file: string, text: string): Problem[] {
  if (!/\.[cm]?[jt]s$/.test(file)) return problemsIn(file, text, 1, !DATED.test(file));
  return commentsOf(file, text).flatMap((c) =>
    problemsIn(file, c.text, 1 + (text.slice(0, c.pos).match(/\n/g)?.length ?? 0), true),
  );
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

async function repoFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of CODE_DIRS)
    for await (const f of walk(join(ROOT, dir))) if (/\.[cm]?[jt]s$/.test(f)) files.push(relative(ROOT, f));
  for await (const f of walk(ROOT)) if (f.endsWith(".md")) files.push(relative(ROOT, f));
  files.push("openapi.yaml");
  return files;
}

describe("references in comments and docs", () => {
  test("every repo path they name exists, none names a machine's path, none tells history", async () => {
    const files = await repoFiles();
    assert.ok(
      files.includes("src/errors.ts") && files.includes("ARCHITECTURE.md"),
      "the scan found the repo",
    );
    const problems: string[] = [];
    for (const file of files) {
      for (const p of problemsOfFile(file, await readFile(join(ROOT, file), "utf8"))) {
        problems.push(`${p.file}:${p.line}: ${p.what}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test("a planted bad reference, machine path or history word is found; URLs and code are not", () => {
    const code = [
      "// See src/protocol/frame.ts and notes/performance.md (bench/nothing-here.ts).",
      'const path = "src/not-there.ts"; // code strings are not comments',
      "/** Cut to 512 bytes (was 4,096 before), as the Go original did; https://x.org/a/b.ts */",
      "const re = /src\\/gone\\.ts/; // a regex literal: https://github.com/o/r/blob/main/c.md",
      "/* Read ./memory.ts beside this file, DESIGN.md and /work/shared/x.md. */",
      "// Partitions: 65,536 (was 4,096); see github.com/o/r/blob/main/x.md.",
      "// the seventh session measured it, and the fifth session too; the old code was 10% slower",
    ].join("\n");
    const found = problemsOfFile("src/example.ts", code).map((p) => `${p.line}: ${p.what}`);
    assert.deepEqual(found.sort(), [
      "1: names bench/nothing-here.ts, which is not in the repo",
      "1: names notes/performance.md, which is not in the repo",
      '3: tells history: "Go original"',
      '3: tells history: "was 4,096 before"',
      "5: names DESIGN.md, which is not in the repo",
      "5: names a path of some machine: /work/shared/x.md",
      '6: tells history: "(was 4,096)"',
      '7: tells history: "fifth session"',
      '7: tells history: "seventh session"',
      '7: tells history: "the old code"',
    ]);
    const doc = [
      "The layout is in [docs/protocol.md](docs/protocol.md), the server in `src/transport/`.",
      "Run `npx node bench/placement.ts`; `node dist/cli/main.js` after a build; `<data>/chunks/ab/cd/`.",
      "Bad: `heal/manifest-header.ts`, [x](../x.md), `test/nope.test.ts`.",
      "Links: [ok](docs/protocol.md#frames), [mail](mailto:a@b.c), [gone](docs/), [bad](bench/results/x.json).",
      "Bare names: README.md is here, journal-2020-01.md is not.",
      "A server session per socket is fine; this used to differ is not.",
    ].join("\n");
    const docFound = problemsOfFile("README.md", doc).map((p) => `${p.line}: ${p.what}`);
    assert.deepEqual(docFound.sort(), [
      "3: links to ../x.md, which is not in the repo",
      "3: names ../x.md, which is not in the repo",
      "3: names heal/manifest-header.ts, which is not in the repo",
      "3: names test/nope.test.ts, which is not in the repo",
      "4: links to bench/results/x.json, which is not in the repo",
      "4: names bench/results/x.json, which is not in the repo",
      "5: names journal-2020-01.md, which is not in the repo",
      '6: tells history: "this used to"',
    ]);
    assert.deepEqual(problemsOfFile("bench/results-2026-11.md", "the fifth session"), [], "dated journals");
  });
});
