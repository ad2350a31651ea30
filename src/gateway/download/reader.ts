import { CHUNK_OVERHEAD, type Manifest, type OpenedManifest, sha256Hex } from "../../crypto/index.ts";
import { DfsError, type ErrorCode, isDfsError, toDfsError } from "../../errors.ts";
import { freeNow } from "../../memory.ts";
import { askInTurn } from "../../tables/index.ts";
import { readFanoutOf } from "../cluster.ts";
import type { GatewayContext } from "../context.ts";
import { hedging, timer } from "../hedge.ts";
import { checkStamp, storedSealed } from "../signing.ts";
import type { ChunkRef } from "../upload/ingest.ts";

/** Plaintext pieces a download sends: small enough that malloc reuses their memory (see openChunk). */
const PLAIN_PIECE_BYTES = 256 * 1024;

/** How many nodes, in placement order, a read asks before it gives up (cluster.ts). */
export function readFanout(ctx: GatewayContext): number {
  return readFanoutOf(ctx.config.replicas);
}

/** Why a read over several nodes failed: missing everywhere, or something worse somewhere. */
class ReadFailures {
  missing = 0;
  corrupt = 0;
  other: DfsError | undefined;

  add(err: unknown): void {
    if (isDfsError(err, "DFS_ERR_NOT_FOUND")) this.missing++;
    else if (isDfsError(err, "DFS_ERR_CORRUPT") || isDfsError(err, "DFS_ERR_HASH_MISMATCH")) this.corrupt++;
    else this.other ??= toDfsError(err);
  }
}

/**
 * The manifest of a file. NOT_FOUND when the file was deleted (the newest copy is a tombstone), or
 * no good copy was found and at least one node answered; UNAVAILABLE when no node could be asked.
 */
export async function readManifest(
  ctx: GatewayContext,
  hash: string,
  signal?: AbortSignal,
): Promise<Manifest> {
  const found = await readManifestObject(ctx, hash, signal);
  if (found.type === "tombstone") throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${hash}`);
  return found.manifest;
}

/**
 * Owners a manifest read must hear from: R − W + 1. Any W owners that took a write (a manifest or
 * the tombstone of a delete) share at least one node with any R − W + 1 of them, so the newest
 * object is seen without asking all R.
 */
export function readQuorum(ctx: GatewayContext): number {
  return Math.max(1, ctx.config.replicas - ctx.config.writeQuorum + 1);
}

/** A manifest object as read, and its version: the SHA-256 of the stored bytes (what chunk_refs names). */
export type StoredManifest = OpenedManifest & { version: string };

/**
 * The newest manifest object (manifest or tombstone) of a file. readQuorum owners are asked at
 * once, and more owners while some of them fail to answer; the highest stamp wins (a tombstone on
 * a tie), so a copy a delete missed cannot revive the file. When none of them has a good copy, the
 * rest of the read fan-out is tried in order.
 */

export async function readManifestObject(
  ctx: GatewayContext,
  hash: string,
  signal?: AbortSignal,
): Promise<StoredManifest> {
  const id = ctx.cipher.manifestId(hash);
  const failures = new ReadFailures();
  const order = ctx.placement.order(id).slice(0, readFanout(ctx));
  /** The sealed copy, "missing" (the node answered that it has none), or undefined (no answer). */
  const readOne = async (addr: string): Promise<Buffer | "missing" | undefined> => {
    const answered = timer(ctx.hedges.small);
    try {
      const sealed = await ctx.nodes.getBuffer(addr, id, { kind: "manifest", signal });
      answered();
      ctx.metrics.nodeOp("get", "manifest", true);
      return sealed;
    } catch (err) {
      if (signal?.aborted) throw toDfsError(err, "DFS_ERR_CANCELLED");
      const missing = isDfsError(err, "DFS_ERR_NOT_FOUND");
      if (missing) answered();
      ctx.metrics.nodeOp("get", "manifest", missing);
      failures.add(err);
      return missing ? "missing" : undefined;
    }
  };
  const open = (sealed: Buffer): OpenedManifest | undefined => {
    try {
      return checkStamp(ctx.cipher.openStored(hash, storedSealed(sealed)));
    } catch (err) {
      failures.add(err);
      return undefined;
    }
  };
  const { answers, asked } = await askInTurn(
    order.slice(0, ctx.config.replicas),
    readQuorum(ctx),
    readOne,
    hedging(ctx, "small"),
  );
  // Copies are usually byte for byte the same: open each distinct one once.
  const distinct: Buffer[] = [];
  for (const a of answers) if (a !== "missing" && !distinct.some((d) => d.equals(a))) distinct.push(a);
  let best: StoredManifest | undefined;
  for (const sealed of distinct) {
    const o = open(sealed);
    if (o && (!best || newer(o, best))) best = { ...o, version: sha256Hex(sealed) };
  }
  if (best) return best;
  // None of the owners asked has a copy (the owners changed, or they were away). The first copy
  // further on is not enough: a node a delete missed may come before one its tombstone reached,
  // so the rest of the fan-out is asked and the newest copy wins, as among the owners.
  for (let at = asked; at < order.length && best === undefined; at++) {
    const sealed = await readOne(order[at]!);
    const o = sealed === undefined || sealed === "missing" ? undefined : open(sealed);
    if (o) best = { ...o, version: sha256Hex(sealed as Buffer) };
    if (best) {
      for (const later of await laterCopies(order.slice(at + 1), readOne, ctx.hedges.small.ms)) {
        const l = open(later);
        if (l && newer(l, best)) best = { ...l, version: sha256Hex(later) };
      }
    }
  }
  if (best) return best;
  if (failures.missing > 0 || failures.corrupt > 0) {
    throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${hash}`);
  }
  throw new DfsError("DFS_ERR_UNAVAILABLE", "no storage node could be asked for this file", {
    cause: failures.other,
  });
}

/**
 * The copies the nodes of `rest` hold, asked all at once; a node that has not answered within
 * `graceMs` (twice the learnt small-read delay, at least 250 ms) is left out, so a stopped node
 * does not hold the read.
 */
async function laterCopies(
  rest: readonly string[],
  readOne: (addr: string) => Promise<Buffer | "missing" | undefined>,
  learntMs: number,
): Promise<Buffer[]> {
  if (rest.length === 0) return [];
  const graceMs = Math.max(250, 2 * learntMs);
  const copies: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  const asked = Promise.all(
    rest.map(async (addr) => {
      const sealed = await readOne(addr);
      if (sealed instanceof Buffer) copies.push(sealed);
    }),
  );
  await Promise.race([asked, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  return [...copies];
}

/** Between two objects under one manifest id: the higher stamp, a tombstone on a tie. */
function newer(a: OpenedManifest, b: OpenedManifest): boolean {
  if (a.stamp !== b.stamp) return a.stamp > b.stamp;
  return a.type === "tombstone" && b.type === "manifest";
}

/**
 * One chunk's plaintext, verified (GCM tag under the key of its plaintext hash): from the first node
 * in placement order that has a good copy. A copy that fails verification is skipped like a missing
 * one; a node that has not answered after the chunk hedge delay (twice the 95th percentile of recent
 * chunk answers, 20 ms to 1 s: hedge.ts) gets the next node asked too, and the first good copy
 * wins (the other read is cancelled), so one stalled node does not hold a download for the
 * request timeout. Once a good copy is found it is pushed to the nodes that missed
 * (read-repair), in the background: the response never waits on it.
 */
export async function readChunk(ctx: GatewayContext, ref: ChunkRef, signal: AbortSignal): Promise<Buffer[]> {
  const failures = new ReadFailures();
  const missed: string[] = [];
  const readOne = async (addr: string, stop: AbortSignal): Promise<Buffer[] | undefined> => {
    const answered = timer(ctx.hedges.chunk);
    try {
      const plain = await readCopy(ctx, ref, addr, AbortSignal.any([signal, stop]), missed);
      answered();
      return plain;
    } catch (err) {
      if (signal.aborted) throw toDfsError(err, "DFS_ERR_CANCELLED");
      if (stop.aborted) return undefined;
      failures.add(err);
      if (isDfsError(err, "DFS_ERR_NOT_FOUND") || isDfsError(err, "DFS_ERR_CORRUPT")) missed.push(addr);
      return undefined;
    }
  };
  const addrs = ctx.placement.order(ref.id).slice(0, readFanout(ctx));
  const { answers } = await askInTurn(addrs, 1, readOne, hedging(ctx, "chunk"));
  if (answers[0]) return answers[0];
  const code: ErrorCode = failures.corrupt > 0 && !failures.other ? "DFS_ERR_CORRUPT" : "DFS_ERR_UNAVAILABLE";
  throw new DfsError(code, `no live node holds a good copy of chunk ${ref.id}`, { cause: failures.other });
}

/**
 * One node's copy of a chunk, decrypted and checked. The sealed bytes are read into a pooled
 * buffer, given back once decrypted (unless read-repair still sends them, to the nodes in
 * `missed` so far).
 */
async function readCopy(
  ctx: GatewayContext,
  ref: ChunkRef,
  addr: string,
  signal: AbortSignal,
  missed: readonly string[],
): Promise<Buffer[]> {
  const pool = ctx.buffers.sealed;
  let lent: Buffer | undefined;
  try {
    const sealed = await ctx.nodes.getBuffer(addr, ref.id, {
      kind: "chunk",
      signal,
      into: (length) => {
        lent = length <= pool.size ? pool.take() : undefined;
        return lent ?? Buffer.allocUnsafe(length);
      },
    });
    ctx.metrics.nodeOp("get", "chunk", true);
    const plain = ctx.cipher.openPieces(sealed, ref.plainHash, PLAIN_PIECE_BYTES);
    if (sealed.length - CHUNK_OVERHEAD !== ref.size) {
      throw new DfsError("DFS_ERR_CORRUPT", "chunk has the wrong size");
    }
    if (missed.length > 0) readRepair(ctx, ref.id, Buffer.from(sealed), missed);
    // Only after a complete read: a request that failed half-way may still be writing into it.
    if (lent) pool.give(lent);
    // A buffer of its own, dead now (read-repair sent a copy): its memory back at once, not at a
    // GC, which matters when many downloads start together and outrun the pool.
    else freeNow(sealed);
    return plain;
  } catch (err) {
    if (!signal.aborted) ctx.metrics.nodeOp("get", "chunk", false);
    throw err;
  }
}

/**
 * Stores a verified chunk again on the owners that missed it or served a bad copy (the node
 * re-verifies it against its id and replaces the bad copy). Only the first R of placement order:
 * nodes further down were asked as a fallback, not because they should hold it. Errors are logged.
 */
function readRepair(ctx: GatewayContext, id: string, sealed: Buffer, missed: readonly string[]): void {
  const owners = new Set(ctx.placement.order(id).slice(0, ctx.config.replicas));
  for (const addr of missed) {
    if (!owners.has(addr)) continue;
    ctx.nodes.put(addr, id, sealed, sealed.length, { kind: "chunk" }).then(
      () => {
        ctx.metrics.readRepairs.inc({ result: "ok" });
        ctx.logger.info({ id, addr }, "read-repair stored a chunk");
      },
      (err: unknown) => {
        ctx.metrics.readRepairs.inc({ result: "error" });
        ctx.logger.warn({ id, addr, err }, "read-repair failed");
      },
    );
  }
}
