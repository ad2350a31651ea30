/**
 * Headless Chromium for the console's browser tests: Debian's `chromium` (installed by .ci/run)
 * driven by playwright-core, which fetches no browser. Without chromium the tests skip, unless
 * DFS_BROWSER=required (CI), where they fail.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { REPO_ROOT } from "./proc.ts";

export const CHROMIUM = process.env.DFS_CHROMIUM ?? "/usr/bin/chromium";
export const SHOTS = join(REPO_ROOT, "test-results", "console");

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set DFS_CHROMIUM)`;
  if (process.env.DFS_BROWSER === "required") throw new Error(`DFS_BROWSER=required but ${why}`);
  return why;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a screenshot of the page as test-results/console/NAME.png. */
export async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown }[];
}

let axeSource: string | undefined;

/**
 * axe-core's violations of the page as it is now. Evaluated through the debugging protocol, which
 * the page's Content-Security-Policy does not apply to (an inline <script> would be refused).
 */
export async function axeViolations(page: Page): Promise<Violation[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
}

/** Serious and critical violations, described one a line. */
export const serious = (violations: Violation[]): string[] =>
  violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
