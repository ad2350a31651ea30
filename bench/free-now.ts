/**
 * Micro benchmark of freeNow (src/memory.ts): a gateway's upload loop alone, N MiB through
 * AES-256-GCM in 64 KiB pieces, each piece's output copied into one reused 1 MiB buffer, with the
 * output left to the GC ("gc") or freed as soon as it is copied ("freeNow"). Each run is a fresh
 * child process with the flags a dfs service starts with (SERVICE_NODE_FLAGS, and the external
 * memory flag of src/cli/service.ts); the two modes alternate. CPU of the whole process (all
 * threads), its peak RSS, and the mark-compacts V8 ran.
 *
 *   npx node bench/free-now.ts [--mib 2048] [--runs 3]
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { type PerformanceEntry, PerformanceObserver, constants as perf } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { freeNow } from "../src/memory.ts";
import { SERVICE_NODE_FLAGS } from "../src/runtime.ts";
import { medianRows, runModesInChildren } from "./lib/child-modes.ts";
import { markdownTable } from "./lib/table.ts";

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
const MODES = ["gc", "freeNow"] as const;
type Mode = (typeof MODES)[number];

interface Result {
  cpuSeconds: number;
  peakRssMiB: number;
  markCompacts: number;
}

async function child(mode: Mode, mib: number): Promise<Result> {
  setFlagsFromString("--external-memory-accounted-in-global-limit");
  let markCompacts = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (
        (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ===
        perf.NODE_PERFORMANCE_GC_MAJOR
      )
        markCompacts++;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const plain = randomBytes(MiB);
  const out = Buffer.allocUnsafeSlow(MiB);
  let peak = 0;
  const started = process.cpuUsage();
  for (let chunk = 0; chunk < mib; chunk++) {
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    for (let at = 0; at < MiB; at += PIECE) {
      const piece = cipher.update(plain.subarray(at, at + PIECE));
      out.set(piece, at);
      if (mode === "freeNow") freeNow(piece);
    }
    cipher.final();
    // A turn of the event loop now and then, as a server has: GC tasks and observers run there.
    if (chunk % 16 === 15) {
      await new Promise((resolve) => setImmediate(resolve));
      peak = Math.max(peak, process.memoryUsage.rss());
    }
  }
  const used = process.cpuUsage(started);
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  return { cpuSeconds: (used.user + used.system) / 1e6, peakRssMiB: peak / MiB, markCompacts };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mib: { type: "string", default: "2048" },
      runs: { type: "string", default: "3" },
      child: { type: "string" },
    },
  });
  const mib = Number(values.mib);
  if (values.child) {
    process.stdout.write(JSON.stringify(await child(values.child as Mode, mib)));
    return;
  }
  const results = runModesInChildren<Mode, Result>(MODES, Number(values.runs), (mode) => [
    ...SERVICE_NODE_FLAGS,
    import.meta.filename,
    "--child",
    mode,
    "--mib",
    String(mib),
  ]);
  const rows = medianRows(results, [
    { of: (x) => (x.cpuSeconds * 1024) / mib, digits: 2 },
    { of: (x) => x.peakRssMiB, digits: 0 },
    { of: (x) => (x.markCompacts * 1024) / mib, digits: 0 },
  ]);
  process.stdout.write(
    `${mib} MiB through AES-256-GCM in 64 KiB pieces, median of ${values.runs} process(es) per mode\n\n`,
  );
  process.stdout.write(
    `${markdownTable(["cipher output", "CPU s per GiB", "peak RSS MiB", "mark-compacts per GiB"], rows, [1, 2, 3])}\n`,
  );
}

await main();
