/**
 * Micro benchmark of src/crypto on 1 MiB chunks: ChunkCipher.seal/open against other ways to lay out
 * the same bytes, and the primitives for reference. Each mode runs in a fresh child process, once
 * with default malloc and once with TUNABLES of bench/lib/options.ts (glibc reads them at start-up
 * only). Every variant is checked to produce the very bytes ChunkCipher does.
 *
 *   npx node bench/crypto.ts [--mib 128] [--runs 3]   (runs = processes per mode, alternating)
 */
import { spawnSync } from "node:child_process";
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { PIECE_BYTES } from "../src/crypto/format.ts";
import { ChunkCipher, type Manifest, sha256Hex } from "../src/crypto/index.ts";
import { KeyRing } from "../src/crypto/keys.ts";
import { median } from "./lib/measure.ts";
import { TUNABLES } from "./lib/options.ts";
import { fixed, markdownTable } from "./lib/table.ts";

const MiB = 1024 * 1024;
const NONCE = Buffer.alloc(12);
const HEADER = Buffer.of(1);
const clusterKey = randomBytes(32);
const cipher = new ChunkCipher(clusterKey);
const keys = new KeyRing(clusterKey);

/** Seal as ChunkCipher does, with `pieceBytes` pieces; the chunk id hashed in the loop or after. */
function sealPieces(plain: Buffer, pieceBytes: number, idInLoop: boolean): Buffer {
  const plainHash = createHash("sha256").update(plain).digest();
  const c = createCipheriv("aes-256-gcm", keys.chunkKey(plainHash), NONCE);
  c.setAAD(HEADER);
  const out = Buffer.allocUnsafe(plain.length + 17);
  out[0] = 1;
  const id = createHash("sha256").update(HEADER);
  let at = 1;
  for (let i = 0; i < plain.length; i += pieceBytes) {
    const piece = c.update(plain.subarray(i, i + pieceBytes));
    out.set(piece, at);
    at += piece.length;
    if (idInLoop) id.update(piece);
  }
  c.final();
  c.getAuthTag().copy(out, at);
  if (idInLoop) id.update(out.subarray(at));
  else id.update(out.subarray(1));
  id.digest("hex");
  return out;
}

function sealWholeConcat(plain: Buffer): Buffer {
  const plainHash = createHash("sha256").update(plain).digest();
  const c = createCipheriv("aes-256-gcm", keys.chunkKey(plainHash), NONCE);
  c.setAAD(HEADER);
  const out = Buffer.concat([HEADER, c.update(plain), c.final(), c.getAuthTag()]);
  sha256Hex(out);
  return out;
}

function sealWholeCopy(plain: Buffer): Buffer {
  const plainHash = createHash("sha256").update(plain).digest();
  const c = createCipheriv("aes-256-gcm", keys.chunkKey(plainHash), NONCE);
  c.setAAD(HEADER);
  const out = Buffer.allocUnsafe(plain.length + 17);
  out[0] = 1;
  out.set(c.update(plain), 1);
  c.final();
  c.getAuthTag().copy(out, plain.length + 1);
  sha256Hex(out);
  return out;
}

/** ChunkCipher.open without its check of the plaintext's sha256 (GCM alone): what that check costs. */
function openNoHashCheck(sealed: Buffer, plainHash: string): Buffer {
  const d = createDecipheriv("aes-256-gcm", keys.chunkKey(Buffer.from(plainHash, "hex")), NONCE);
  d.setAAD(HEADER);
  d.setAuthTag(sealed.subarray(-16));
  const out = Buffer.allocUnsafe(sealed.length - 17);
  let at = 0;
  for (let i = 1; i < sealed.length - 16; i += PIECE_BYTES) {
    const piece = d.update(sealed.subarray(i, Math.min(i + PIECE_BYTES, sealed.length - 16)));
    out.set(piece, at);
    at += piece.length;
  }
  d.final();
  return out;
}

function openWholeConcat(sealed: Buffer, plainHash: string): Buffer {
  const d = createDecipheriv("aes-256-gcm", keys.chunkKey(Buffer.from(plainHash, "hex")), NONCE);
  d.setAAD(HEADER);
  d.setAuthTag(sealed.subarray(-16));
  const out = Buffer.concat([d.update(sealed.subarray(1, -16)), d.final()]);
  if (sha256Hex(out) !== plainHash) throw new Error("hash");
  return out;
}

interface Case {
  label: string;
  run(): unknown;
  /** For seal variants: must equal ChunkCipher.seal's bytes. */
  check?: () => Buffer;
}

function cases(): Case[] {
  const plain = randomBytes(MiB);
  const sealed = cipher.seal(plain);
  const reused = Buffer.allocUnsafe(64 * 1024);
  return [
    { label: "seal: ChunkCipher (256 KiB pieces, id hashed in the loop)", run: () => cipher.seal(plain) },
    {
      label: "seal: 256 KiB pieces, id hashed after",
      run: () => sealPieces(plain, 262144, false),
      check: () => sealPieces(plain, 262144, false),
    },
    {
      label: "seal: 16 KiB pieces, id in the loop",
      run: () => sealPieces(plain, 16384, true),
      check: () => sealPieces(plain, 16384, true),
    },
    {
      label: "seal: 64 KiB pieces, id in the loop",
      run: () => sealPieces(plain, 65536, true),
      check: () => sealPieces(plain, 65536, true),
    },
    {
      label: "seal: one update, copied into one buffer",
      run: () => sealWholeCopy(plain),
      check: () => sealWholeCopy(plain),
    },
    {
      label: "seal: one update + Buffer.concat",
      run: () => sealWholeConcat(plain),
      check: () => sealWholeConcat(plain),
    },
    {
      label: "open: ChunkCipher (GCM + sha256 check, in the loop)",
      run: () => cipher.open(sealed.ciphertext, sealed.plainHash),
    },
    {
      label: "open: GCM only, no sha256 check",
      run: () => openNoHashCheck(sealed.ciphertext, sealed.plainHash),
    },
    {
      label: "open: one update + Buffer.concat, hash after",
      run: () => openWholeConcat(sealed.ciphertext, sealed.plainHash),
    },
    { label: "primitive: sha256", run: () => createHash("sha256").update(plain).digest() },
    {
      label: "primitive: aes-256-gcm, 64 KiB pieces, output dropped",
      run: () => {
        const c = createCipheriv("aes-256-gcm", reused.subarray(0, 32), NONCE);
        for (let i = 0; i < MiB; i += 65536) c.update(plain.subarray(i, i + 65536));
        c.final();
      },
    },
    { label: "primitive: copy 1 MiB into a new Buffer", run: () => Buffer.from(plain) },
  ];
}

/** µs per call of small operations: what a 4 KiB file or a manifest costs. */
function smallOps(): [string, number][] {
  const small = randomBytes(4096);
  const s = cipher.seal(small);
  const chunks = Array.from({ length: 1024 }, () => ({ id: s.chunkId, plainHash: s.plainHash, size: MiB }));
  const manifest: Manifest = {
    version: 1,
    hash: s.plainHash,
    size: 1024 * MiB,
    name: "a-file-of-one-gib.bin",
    contentType: "application/octet-stream",
    chunkBytes: MiB,
    createdAt: Date.now(),
    chunks,
  };
  const sealedManifest = cipher.sealManifest(manifest);
  const rawKey = randomBytes(32);
  const keyObject = createSecretKey(rawKey);
  const ops: [string, () => unknown, number][] = [
    ["seal a 4 KiB chunk", () => cipher.seal(small), 20000],
    ["open a 4 KiB chunk", () => cipher.open(s.ciphertext, s.plainHash), 20000],
    ["manifestId", () => cipher.manifestId(s.plainHash), 20000],
    ["aes-256-gcm setup from a Buffer key", () => createCipheriv("aes-256-gcm", rawKey, NONCE), 20000],
    ["aes-256-gcm setup from a KeyObject", () => createCipheriv("aes-256-gcm", keyObject, NONCE), 20000],
    ["sealManifest, 1 GiB file (1024 chunks)", () => cipher.sealManifest(manifest), 300],
    ["openManifest, 1 GiB file (1024 chunks)", () => cipher.openManifest(manifest.hash, sealedManifest), 300],
  ];
  return ops.map(([label, fn, count]) => {
    const times: number[] = [];
    for (let run = 0; run < 4; run++) {
      const started = performance.now();
      for (let i = 0; i < count; i++) fn();
      if (run > 0) times.push(((performance.now() - started) * 1000) / count);
    }
    return [label, median(times)];
  });
}

interface ChildResult {
  rates: { label: string; mibPerSecond: number; faultsPerMiB: number }[];
  small: [string, number][];
}

/**
 * One measured pass of every case, after an unmeasured pass of all of them (so the heap has
 * reached its size: first use of memory is not what is measured). `rotate` changes which case goes
 * first from one process to the next, so no case always inherits another's garbage.
 */
function child(mib: number, rotate: number): ChildResult {
  const list = cases();
  const expected = (list[0]!.run() as { ciphertext: Buffer }).ciphertext;
  for (const c of list) {
    if (c.check && !c.check().equals(expected))
      throw new Error(`${c.label}: not the bytes ChunkCipher makes`);
  }
  for (const c of list) for (let i = 0; i < mib; i++) c.run();
  const rates = new Map<string, ChildResult["rates"][number]>();
  for (let k = 0; k < list.length; k++) {
    const c = list[(k + rotate) % list.length]!;
    const faults = process.resourceUsage().minorPageFault;
    const started = performance.now();
    for (let i = 0; i < mib; i++) c.run();
    const seconds = (performance.now() - started) / 1000;
    rates.set(c.label, {
      label: c.label,
      mibPerSecond: mib / seconds,
      faultsPerMiB: (process.resourceUsage().minorPageFault - faults) / mib,
    });
  }
  return { rates: list.map((c) => rates.get(c.label)!), small: smallOps() };
}

function runChild(tuned: boolean, mib: number, rotate: number): ChildResult {
  const env = { ...process.env };
  if (tuned) env.GLIBC_TUNABLES = TUNABLES;
  else delete env.GLIBC_TUNABLES;
  const result = spawnSync(
    process.execPath,
    [...process.execArgv, import.meta.filename, "--child", "--mib", String(mib), "--rotate", String(rotate)],
    { env, encoding: "utf8", maxBuffer: 16 * MiB, stdio: ["ignore", "pipe", "inherit"] },
  );
  if (result.status !== 0) throw new Error(`the ${tuned ? "tuned" : "default"} run failed`);
  return JSON.parse(result.stdout) as ChildResult;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      mib: { type: "string", default: "128" },
      runs: { type: "string", default: "3" },
      child: { type: "boolean", default: false },
      rotate: { type: "string", default: "0" },
    },
  });
  const mib = Number(values.mib);
  const runs = Number(values.runs);
  if (values.child) {
    process.stdout.write(JSON.stringify(child(mib, Number(values.rotate))));
    return;
  }
  // Default and tuned processes alternate, so drift on a shared machine hits both alike.
  const plain: ChildResult[] = [];
  const tuned: ChildResult[] = [];
  for (let run = 0; run < runs; run++) {
    plain.push(runChild(false, mib, run * 5));
    tuned.push(runChild(true, mib, run * 5));
    process.stderr.write(`run ${run + 1} of ${runs} done\n`);
  }
  const rate = (all: ChildResult[], i: number, key: "mibPerSecond" | "faultsPerMiB") =>
    median(all.map((r) => r.rates[i]![key]));
  const small = (all: ChildResult[], i: number) => median(all.map((r) => r.small[i]![1]));
  const rows = plain[0]!.rates.map((r, i) => [
    r.label,
    fixed(rate(plain, i, "mibPerSecond")),
    fixed(rate(tuned, i, "mibPerSecond")),
    fixed(rate(plain, i, "faultsPerMiB")),
    fixed(rate(tuned, i, "faultsPerMiB")),
  ]);
  const smallRows = plain[0]!.small.map(([label], i) => [
    label,
    fixed(small(plain, i), 1),
    fixed(small(tuned, i), 1),
  ]);
  process.stdout.write(
    `1 MiB chunks, ${mib} MiB per case, median of ${runs} processes per mode (each after a warm-up pass)\n\n` +
      `${markdownTable(["case", "MiB/s default", "MiB/s tuned", "faults/MiB default", "faults/MiB tuned"], rows, [1, 2, 3, 4])}\n\n` +
      `${markdownTable(["small operation", "µs default", "µs tuned"], smallRows, [1, 2])}\n\n` +
      `tuned = GLIBC_TUNABLES=${TUNABLES}\n`,
  );
}

main();
