/**
 * What signed versions and records cost per operation, in one process: a gateway signing a sealed
 * manifest (SHA-256 of the bytes + one Ed25519 sign), a node checking one whose PUT would replace
 * a copy (SHA-256 + one verify, no cache hit: every signature new; a PUT of a new id is not checked), the same check answered from the signature cache
 * (repair asking again about a copy it saw), and a registry record signed and checked. Figures
 * are CPU time per operation, so other load on the machine inflates them less than wall time.
 *
 *   npx node bench/signatures.ts [--count 5000]
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import {
  issueIdentity,
  newSeed,
  ObjectSignatures,
  signingKeyFromSeed,
  TrustAnchor,
} from "../src/credentials/index.ts";
import { ChunkCipher } from "../src/crypto/index.ts";
import { signSealed } from "../src/gateway/signing.ts";
import { copyOfWhole } from "../src/node/heal/versions.ts";
import { RecordCheck, signRecord } from "../src/registry/record-signature.ts";

const { values } = parseArgs({ options: { count: { type: "string", default: "5000" } } });
const count = Number(values.count);
const seed = newSeed();
const authority = signingKeyFromSeed(seed);
const gateway = issueIdentity(authority, "gateway", "gw", Date.now(), 3_600_000).identity;
const node = issueIdentity(authority, "node", "node-1", Date.now(), 3_600_000).identity;
const anchor = new TrustAnchor(authority.publicKey);
const cipher = new ChunkCipher(Buffer.alloc(32, 1));

function time(label: string, run: (i: number) => void): void {
  for (let i = 0; i < Math.min(200, count); i++) run(i); // warm up
  // CPU time, not wall time: on a shared machine the wall clock counts other processes' turns.
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) run(i);
  const used = process.cpuUsage(start);
  const us = (used.user + used.system) / count;
  console.log(
    `${label.padEnd(58)} ${us.toFixed(1).padStart(7)} CPU µs/op  (${Math.round(1e6 / us)}/s a core)`,
  );
}

// A 4 KiB file's manifest (inline), as the small-upload bench writes.
const hashes = Array.from({ length: count + 200 }, (_, i) => i.toString(16).padStart(64, "0"));
const sealed = hashes.map((h, i) =>
  cipher.sealManifest({
    version: 1,
    hash: h,
    size: 4096,
    name: `f${i}`,
    contentType: "application/octet-stream",
    chunkBytes: 1 << 20,
    createdAt: Date.now(),
    chunks: [],
    inline: Buffer.alloc(4096, i).toString("base64"),
  }),
);
const ids = hashes.map((h) => cipher.manifestId(h));
console.log(`manifest of a 4 KiB file: ${sealed[0]!.length} bytes sealed`);
const signed: Buffer[] = [];
time("gateway: sign a sealed manifest (sha256 + Ed25519 sign)", (i) => {
  signed[i] = signSealed(gateway, ids[i]!, sealed[i]!);
});
console.log(`  + ${signed[0]!.length - sealed[0]!.length} bytes of trailer`);
let checker = new ObjectSignatures(anchor);
time("node: check a PUT that replaces a copy (sha256 + verify)", (i) => {
  if (copyOfWhole(ids[i]!, signed[i]!, checker)?.signing !== "signed") throw new Error("not signed");
});
time("node: the same again, from the signature cache", (i) => {
  if (copyOfWhole(ids[i]!, signed[i]!, checker)?.signing !== "signed") throw new Error("not signed");
});
checker = new ObjectSignatures(anchor);
const record = {
  id: "node-1",
  addr: "127.0.0.1:7100",
  zone: "z",
  capacityBytes: 2 ** 40,
  freeBytes: 2 ** 39,
  version: "0.1.0",
  startedAt: Date.now(),
  incarnation: 1,
  lastHeartbeat: Date.now(),
  heartbeatTtlMs: 10_000,
};
const texts: string[] = [];
time("node: sign its registry record", (i) => {
  texts[i] = JSON.stringify(signRecord(node, { ...record, lastHeartbeat: record.lastHeartbeat + i }));
});
const check = new RecordCheck(anchor, { maxHeartbeatTtlMs: 60_000 }, pino({ level: "silent" }));
time("reader: check a registry record", (i) => {
  if (check.decode(texts[i]!, "node-1") === undefined) throw new Error("refused");
});
