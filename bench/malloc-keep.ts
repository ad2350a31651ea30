/**
 * Micro benchmark of keepFreedMemory (src/memory.ts): a gateway's sealing loop alone, N MiB of
 * 1 MiB chunks through gcmInto (AES-256-GCM in PIECE_BYTES pieces, each output copied into one
 * reused buffer, hashed, and freed at once), in a fresh child process per run: with malloc as the
 * process started ("as started"), or after keepFreedMemory() ("kept"); the two alternate. CPU of
 * the whole process (all threads) and its minor page faults (each a 4 KiB page taken anew).
 *
 * The children run the compiled JavaScript (dist/, built first, as the bench's cluster runs it):
 * loading TypeScript (type stripping) itself maps and frees large blocks, which does what
 * keepFreedMemory does and would hide the difference.
 *
 *   npx node bench/malloc-keep.ts [--mib 1024] [--runs 3]
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PIECE_BYTES } from "../src/crypto/format.ts";
import { SERVICE_NODE_FLAGS } from "../src/runtime.ts";
import { medianRows, runModesInChildren } from "./lib/child-modes.ts";
import { buildDist } from "./lib/dfs.ts";
import { REPO_ROOT } from "./lib/procs.ts";
import { markdownTable } from "./lib/table.ts";

const MODES = ["as started", "kept"] as const;
type Mode = (typeof MODES)[number];

interface Result {
  cpuSeconds: number;
  minorFaults: number;
}

const dist = (file: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, "dist", file)).href);

/** The child: argv is [mode, MiB]; prints a Result. Plain JavaScript, see above. */
const CHILD = `
import { createCipheriv, createHash, randomBytes } from "node:crypto";
const { gcmInto } = await import(${dist("crypto/gcm.js")});
const { keepFreedMemory } = await import(${dist("memory.js")});
const [mode, mib] = [process.argv[1], Number(process.argv[2])];
if (mode === "kept") keepFreedMemory();
const MiB = 1024 * 1024;
const key = randomBytes(32);
const plain = randomBytes(MiB);
const out = Buffer.allocUnsafeSlow(MiB);
const faults = process.resourceUsage().minorPageFault;
const started = process.cpuUsage();
for (let chunk = 0; chunk < mib; chunk++) {
  const cipher = createCipheriv("aes-256-gcm", key, randomBytes(12));
  const id = createHash("sha256");
  gcmInto(cipher, plain, out, 0, id);
  cipher.final();
  id.digest();
}
const used = process.cpuUsage(started);
process.stdout.write(JSON.stringify({
  cpuSeconds: (used.user + used.system) / 1e6,
  minorFaults: process.resourceUsage().minorPageFault - faults,
}));
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mib: { type: "string", default: "1024" },
      runs: { type: "string", default: "3" },
    },
  });
  const mib = Number(values.mib);
  await buildDist();
  const results = runModesInChildren<Mode, Result>(MODES, Number(values.runs), (mode) => [
    ...SERVICE_NODE_FLAGS,
    "--input-type=module",
    "-e",
    CHILD,
    mode,
    String(mib),
  ]);
  const rows = medianRows(results, [
    { of: (x) => (x.cpuSeconds * 1024) / mib, digits: 2 },
    { of: (x) => x.minorFaults / mib, digits: 0 },
  ]);
  process.stdout.write(
    `${mib} MiB sealed in 1 MiB chunks (gcmInto, ${PIECE_BYTES / 1024} KiB pieces, output hashed), ` +
      `median of ${values.runs} process(es) per mode\n\n`,
  );
  process.stdout.write(
    `${markdownTable(["malloc", "CPU s per GiB", "minor faults per MiB"], rows, [1, 2])}\n`,
  );
}

await main();
