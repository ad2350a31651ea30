/**
 * Summarises V8 .cpuprofile files (from `npm run bench -- --cpu-prof`): self time by function and
 * by file, idle excluded, so "what costs what" in a node can be read without a browser.
 * Run: npx node bench/prof-summary.ts [--top N] FILE.cpuprofile...
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "./lib/procs.ts";
import { fixed, markdownTable } from "./lib/table.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (url === "") return "(native/vm)";
  const path = url.replace(/^file:\/\//, "");
  return path.startsWith(REPO_ROOT) ? relative(REPO_ROOT, path) : path.replace(/^node:/, "node:");
}

function summarise(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const dt = p.timeDeltas[i] ?? 0;
    if (!frame || frame.functionName === "(idle)") return;
    busy += dt;
    const fn = `${frame.functionName || "(anonymous)"} ${where(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
    byFile.set(where(frame.url), (byFile.get(where(frame.url)) ?? 0) + dt);
  });
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => [fixed(us / 1000), `${fixed((100 * us) / busy, 1)}%`, name]);
  return [
    `${file}: ${fixed(busy / 1e6, 2)} s busy`,
    markdownTable(["self ms", "share", "function"], rows(byFunction), [0, 1]),
    "",
    markdownTable(["self ms", "share", "file"], rows(byFile), [0, 1]),
  ].join("\n");
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string" } } });
for (const file of positionals) process.stdout.write(`${summarise(file, Number(values.top ?? 25))}\n\n`);
