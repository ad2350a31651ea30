import { hlcMs } from "./hlc.ts";
import { OBJECT_ID_BYTES } from "./object-id.ts";
import type { TableRecord } from "./records.ts";

/**
 * Chunk references: the records of table `chunk_refs`, placed on the chunk's own owners (partition
 * key = the chunk id, 32 bytes), so a node decides whether to collect a chunk from its own tables.
 * A sort key is one kind byte and 32 bytes:
 * - an upload's hold: a random upload id; the value is the lease end (u64 BE, ms). It holds the
 *   chunk while the lease runs: an upload renews it until its manifest's reference is written;
 * - a manifest version's reference: the SHA-256 of the stored manifest object (the checksum nodes
 *   keep for it); the value is the manifest id. It holds the chunk until retracted (deleted).
 * ARCHITECTURE.md ("Chunk references and garbage collection") has the rules.
 */
export const CHUNK_REFS_TABLE = "chunk_refs";

const KIND_UPLOAD = 0x01;
const KIND_MANIFEST = 0x02;
const SORT_KEY_BYTES = 1 + 32;

export type ChunkRef =
  | { kind: "upload"; uploadId: string; leaseEndMs: number }
  | { kind: "manifest"; version: string; manifestId: string };

function sortKey(kind: number, hex: string): Buffer {
  const key = Buffer.allocUnsafe(SORT_KEY_BYTES);
  key[0] = kind;
  key.write(hex, 1, "hex");
  return key;
}

/** An upload's hold on a chunk: its sort key and value. */
export function uploadHold(uploadId: string, leaseEndMs: number): { sortKey: Buffer; value: Buffer } {
  const value = Buffer.allocUnsafe(8);
  value.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(leaseEndMs))));
  return { sortKey: sortKey(KIND_UPLOAD, uploadId), value };
}

/** A manifest version's reference to a chunk: its sort key and value. `version` is the object's SHA-256. */
export function manifestRef(version: string, manifestId: string): { sortKey: Buffer; value: Buffer } {
  return { sortKey: sortKey(KIND_MANIFEST, version), value: Buffer.from(manifestId, "hex") };
}

/** The sort key of a manifest version's reference (to retract it). */
export function manifestRefKey(version: string): Buffer {
  return sortKey(KIND_MANIFEST, version);
}

/** The sort key of an upload's hold (to retract it). */
export function uploadHoldKey(uploadId: string): Buffer {
  return sortKey(KIND_UPLOAD, uploadId);
}

/** What a live chunk_refs record says; undefined for one of another shape (kept, never trusted to free). */
export function parseChunkRef(r: TableRecord): ChunkRef | undefined {
  const k = r.sortKey;
  if (k.length !== SORT_KEY_BYTES) return undefined;
  const hex = k.toString("hex", 1);
  if (k[0] === KIND_UPLOAD && r.value.length === 8) {
    return { kind: "upload", uploadId: hex, leaseEndMs: Number(r.value.readBigUInt64BE(0)) };
  }
  if (k[0] === KIND_MANIFEST && r.value.length === OBJECT_ID_BYTES) {
    return { kind: "manifest", version: hex, manifestId: r.value.toString("hex") };
  }
  return undefined;
}

export type ChunkFate =
  /** Some reference holds it: a manifest version's, an upload's running lease, or one not understood. */
  | { keep: true; reason: "referenced" | "leased" | "unknown-record" | "no-records" | "grace" }
  | { keep: false };

/**
 * Whether a chunk may be collected, from its chunk_refs records on this node (deletions included):
 * only when it has records, every one is a retraction or an upload hold whose lease ended, and the
 * last of those ends (a retraction's version time, a lease's end) is older than `graceMs`. A chunk
 * with no records at all (written before references existed, until the upgrade builds them) is kept.
 */
export function chunkFate(records: readonly TableRecord[], nowMs: number, graceMs: number): ChunkFate {
  if (records.length === 0) return { keep: true, reason: "no-records" };
  let lastEnd = 0;
  for (const r of records) {
    if (r.deleted) {
      lastEnd = Math.max(lastEnd, hlcMs(r.version.hlc));
      continue;
    }
    const ref = parseChunkRef(r);
    if (ref === undefined) return { keep: true, reason: "unknown-record" };
    if (ref.kind === "manifest") return { keep: true, reason: "referenced" };
    if (ref.leaseEndMs > nowMs) return { keep: true, reason: "leased" };
    lastEnd = Math.max(lastEnd, ref.leaseEndMs);
  }
  return nowMs - lastEnd > graceMs ? { keep: false } : { keep: true, reason: "grace" };
}
