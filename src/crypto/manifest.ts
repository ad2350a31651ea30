import { isObjectId } from "../formats/index.ts";

/** One chunk of a file, in file order. */
export interface ManifestChunk {
  /** Chunk id: sha256 hex of the sealed chunk (what nodes store it under and verify). */
  id: string;
  /** sha256 hex of the plaintext chunk: the chunk key's input (open() authenticates under it). */
  plainHash: string;
  /** Plaintext bytes. */
  size: number;
}

/** What a file is: stored sealed, under ChunkCipher.manifestId(hash). */
export interface Manifest {
  version: 1;
  /** sha256 hex of the whole plaintext: the file's id. */
  hash: string;
  size: number;
  name: string;
  contentType: string;
  chunkBytes: number;
  /** Milliseconds since the epoch. */
  createdAt: number;
  chunks: ManifestChunk[];
  /**
   * A small file's bytes, base64, stored in the manifest itself (then `chunks` is empty): one
   * object to write and read instead of two. Absent for every other file, empty ones included.
   */
  inline?: string;
}

/** The largest file a manifest may carry inline (the gateway's inlineMaxBytes is at most this). */
export const INLINE_MAX_BYTES = 64 * 1024;

/** Generous bounds: the gateway cleans names to 255 characters and media types to 255. */
const MAX_NAME_CHARS = 1024;
const MAX_CONTENT_TYPE_CHARS = 256;
const MANIFEST_KEYS = ["version", "hash", "size", "name", "contentType", "chunkBytes", "createdAt", "chunks"];
const CHUNK_KEYS = ["id", "plainHash", "size"];

/**
 * The manifest as canonical JSON: fixed key order, so the same manifest always gives the same bytes
 * whatever order its object's keys were set in.
 */
export function manifestJson(m: Manifest): string {
  const canonical: Manifest = {
    version: m.version,
    hash: m.hash,
    size: m.size,
    name: m.name,
    contentType: m.contentType,
    chunkBytes: m.chunkBytes,
    createdAt: m.createdAt,
    chunks: m.chunks.map((c) => ({ id: c.id, plainHash: c.plainHash, size: c.size })),
  };
  if (m.inline !== undefined) canonical.inline = m.inline;
  return JSON.stringify(canonical);
}

/**
 * Checks that `value` is a manifest and nothing else: exact keys, types, bounds, and chunk sizes that
 * add up to the file size. Returns why not, or undefined when it is one.
 */
export function manifestProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "not an object";
  const extra = exactKeys(value, MANIFEST_KEYS, ["inline"]);
  if (extra) return extra;
  const m = value as Record<string, unknown>;
  if (m.version !== 1) return "unknown manifest version";
  if (!isObjectId(m.hash)) return "hash is not a lowercase hex sha256";
  if (!isCount(m.size)) return "size is not a non-negative integer";
  if (!isString(m.name, MAX_NAME_CHARS)) return "name is not a string of at most 1024 characters";
  if (!isString(m.contentType, MAX_CONTENT_TYPE_CHARS)) return "contentType is not a short string";
  if (!isCount(m.chunkBytes) || m.chunkBytes < 1) return "chunkBytes is not a positive integer";
  if (!isCount(m.createdAt)) return "createdAt is not milliseconds since the epoch";
  if (!Array.isArray(m.chunks)) return "chunks is not an array";
  let total = 0;
  for (const [i, c] of m.chunks.entries()) {
    if (!isPlainObject(c)) return `chunk ${i} is not an object`;
    const extraKey = exactKeys(c, CHUNK_KEYS);
    if (extraKey) return `chunk ${i}: ${extraKey}`;
    const chunk = c as Record<string, unknown>;
    if (!isObjectId(chunk.id) || !isObjectId(chunk.plainHash)) return `chunk ${i} has a malformed hash`;
    if (!isCount(chunk.size) || chunk.size < 1 || chunk.size > m.chunkBytes) {
      return `chunk ${i} size is not within 1..chunkBytes`;
    }
    total += chunk.size;
  }
  if (m.inline !== undefined) return inlineProblem(m.inline, m.size as number, m.chunks.length);
  if (total !== m.size) return "chunk sizes do not add up to the file size";
  return undefined;
}

function inlineProblem(inline: unknown, size: number, chunks: number): string | undefined {
  if (chunks > 0) return "a manifest with inline bytes lists no chunks";
  if (size < 1 || size > INLINE_MAX_BYTES) return `inline bytes must be 1..${INLINE_MAX_BYTES}`;
  if (typeof inline !== "string" || inline.length !== 4 * Math.ceil(size / 3)) {
    return "inline is not the base64 of size bytes";
  }
  // Canonical base64 only, so one file has one manifest.
  if (Buffer.from(inline, "base64").toString("base64") !== inline) return "inline is not canonical base64";
  return undefined;
}

function isPlainObject(v: unknown): v is object {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function exactKeys(o: object, keys: readonly string[], optional: readonly string[] = []): string | undefined {
  for (const k of keys) if (!Object.hasOwn(o, k)) return `missing ${k}`;
  const unknown = Object.keys(o).find((k) => !keys.includes(k) && !optional.includes(k));
  return unknown === undefined ? undefined : `unknown key ${unknown}`;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isString(v: unknown, maxChars: number): v is string {
  return typeof v === "string" && v.length <= maxChars;
}
