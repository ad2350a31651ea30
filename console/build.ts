/**
 * Builds the web console into dist/ui/ (npm run build:ui; npm ci runs it through `prepare`, and
 * `npm run build` too): one bundled, minified script and stylesheet, the page, and a gzip and a
 * brotli copy of each for the gateway to send as they are.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "dist", "ui");
const SRC = join(import.meta.dirname, "src");

export async function buildConsole(out = OUT): Promise<string[]> {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: { app: join(SRC, "main.ts"), "app-style": join(SRC, "style.css") },
    outdir: out,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome111", "firefox114", "safari16.4"],
    legalComments: "none",
    logLevel: "warning",
  });
  await rm(join(out, "app-style.js"), { force: true });
  await writeFile(join(out, "app.css"), await readFile(join(out, "app-style.css")));
  await rm(join(out, "app-style.css"));
  await copyFile(join(SRC, "index.html"), join(out, "index.html"));
  const files = ["index.html", "app.js", "app.css"];
  for (const name of files) {
    const raw = await readFile(join(out, name));
    await writeFile(join(out, `${name}.gz`), gzipSync(raw, { level: 9 }));
    await writeFile(
      join(out, `${name}.br`),
      brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
  }
  return files;
}

if (import.meta.main) {
  const files = await buildConsole();
  process.stdout.write(`console built into ${OUT}: ${files.join(", ")}\n`);
}
