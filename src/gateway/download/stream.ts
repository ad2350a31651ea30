import { createHash } from "node:crypto";
import { type Manifest, sha256Hex } from "../../crypto/index.ts";
import { DfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import type { ReadAheadBudget } from "../guards.ts";
import { readChunk } from "./reader.ts";

/**
 * Bytes [start, end] of a file stored inside its manifest (`manifest.inline` set). Sealed with the
 * manifest, so authenticated already; a whole-file read checks the file's SHA-256 all the same.
 */
export function inlinePiece(ctx: GatewayContext, manifest: Manifest, start: number, end: number): Buffer {
  const bytes = Buffer.from(manifest.inline ?? "", "base64");
  if (start === 0 && end === manifest.size - 1 && sha256Hex(bytes) !== manifest.hash) {
    throw new DfsError("DFS_ERR_CORRUPT", "the file's bytes do not match its hash");
  }
  const piece = bytes.subarray(start, end + 1);
  ctx.metrics.bytesOut.inc(piece.length);
  return piece;
}

/** Chunks fetched ahead of the one being sent: enough to hide a node round trip, bounded in memory. */
export const READ_AHEAD = 3;

/**
 * The plaintext bytes [start, end] (inclusive) of a file, chunk by chunk, with up to READ_AHEAD
 * chunks fetched ahead. Each chunk is verified on its own; a whole-file read also checks the file's
 * SHA-256 before handing over its LAST piece, so a stream that completes is always the right bytes.
 * Any failure throws, which the HTTP layer turns into an aborted response.
 */
export async function* plaintext(
  ctx: GatewayContext,
  manifest: Manifest,
  start: number,
  end: number,
  signal: AbortSignal,
  budget?: ReadAheadBudget,
): AsyncGenerator<Buffer> {
  if (manifest.inline !== undefined) {
    yield inlinePiece(ctx, manifest, start, end);
    return;
  }
  const whole = start === 0 && end === manifest.size - 1;
  const fileHash = whole ? createHash("sha256") : undefined;
  // Offsets from the sizes listed, so nothing depends on every chunk but the last being full.
  const offsets: number[] = [];
  let at = 0;
  for (const c of manifest.chunks) {
    offsets.push(at);
    at += c.size;
  }
  if (at !== manifest.size) throw new DfsError("DFS_ERR_CORRUPT", "manifest chunk sizes do not add up");

  let first = 0;
  while (first < offsets.length - 1 && offsets[first + 1]! <= start) first++;
  let last = first;
  while (last < offsets.length - 1 && offsets[last + 1]! <= end) last++;

  const pending = new Map<number, Promise<Buffer[]>>();
  const ahead = new Set<number>(); // chunks fetched on the read-ahead budget
  const fetch = (i: number, isAhead: boolean) => {
    if (i > last || pending.has(i)) return;
    if (isAhead && budget !== undefined) {
      if (!budget.take(manifest.chunks[i]!.size)) return;
      ahead.add(i);
    }
    const p = readChunk(ctx, manifest.chunks[i]!, signal);
    p.catch(() => {}); // awaited in order below; not an unhandled rejection meanwhile
    pending.set(i, p);
  };
  const giveBack = (i: number) => {
    if (ahead.delete(i)) budget?.give(manifest.chunks[i]!.size);
  };

  try {
    for (let i = first; i <= last && manifest.size > 0; i++) {
      fetch(i, false);
      for (let j = i + 1; j <= i + READ_AHEAD; j++) fetch(j, true);
      const pieces = await pending.get(i)!;
      pending.delete(i);
      giveBack(i); // the current chunk: the transfer's own
      if (fileHash) {
        for (const piece of pieces) fileHash.update(piece);
        if (i === last && fileHash.digest("hex") !== manifest.hash) {
          throw new DfsError("DFS_ERR_CORRUPT", "the file's bytes do not match its hash");
        }
      }
      // The wanted bytes of this chunk, [from, to), piece by piece.
      const from = Math.max(0, start - offsets[i]!);
      const to = Math.min(manifest.chunks[i]!.size, end - offsets[i]! + 1);
      for (const part of slicePieces(pieces, from, to)) {
        ctx.metrics.bytesOut.inc(part.length);
        yield part;
      }
    }
  } finally {
    for (const i of ahead) giveBack(i);
  }
  if (manifest.size === 0 && manifest.hash !== EMPTY_SHA256) {
    throw new DfsError("DFS_ERR_CORRUPT", "an empty file must have the hash of no bytes");
  }
}

/** Bytes [from, to) of the concatenation of `pieces`, as views of them (no copy); empty parts left out. */
export function* slicePieces(pieces: readonly Buffer[], from: number, to: number): Generator<Buffer> {
  let pieceStart = 0;
  for (const piece of pieces) {
    const pieceEnd = pieceStart + piece.length;
    const a = Math.max(from, pieceStart);
    const b = Math.min(to, pieceEnd);
    if (a < b)
      yield a === pieceStart && b === pieceEnd ? piece : piece.subarray(a - pieceStart, b - pieceStart);
    pieceStart = pieceEnd;
  }
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
