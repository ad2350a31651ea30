import { createHash } from "node:crypto";
import { DfsError, isDfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";
import { Chunker } from "./chunker.ts";
import { UploadHolds } from "./holds.ts";
import { replicate } from "./replicate.ts";
import { TaskWindow } from "./window.ts";

export interface ChunkRef {
  id: string;
  plainHash: string;
  size: number;
}

export interface Ingested {
  /** SHA-256 of the whole plaintext: what `sha256sum` prints. */
  hash: string;
  size: number;
  chunks: ChunkRef[];
  /** A small file's bytes, to be stored inside its manifest (then `chunks` is empty). */
  inline?: Buffer;
  /** The fewest copies any chunk got (W at least); for an empty or inline file, R. */
  replicas: number;
  /** The upload's hold on its chunks: commit() references them from the manifest, then releases it. */
  holds: UploadHolds;
}

/** An error of the request body itself (client abort, malformed multipart, over the limit). */
function sourceError(err: unknown): DfsError {
  if (isDfsError(err)) return err;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (status === 413) return new DfsError("DFS_ERR_TOO_LARGE", (err as Error).message, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new DfsError("DFS_ERR_BAD_REQUEST", `the upload could not be read: ${message}`, { cause: err });
}

/**
 * Reads an upload to its end: cuts it into chunks, hashes the whole file on the way, seals each
 * chunk and stores it on W..R nodes, with at most `uploadConcurrency` chunks in flight. A file of
 * at most inlineMaxBytes (and less than a chunk) is only kept, for commit() to put in its manifest. While the
 * window is full the source is not read, so the request is paused by TCP backpressure and memory
 * stays flat (about uploadConcurrency sealed chunks plus one plaintext buffer).
 *
 * Nothing is made visible here: the caller writes the manifest once this resolves. On failure every
 * chunk write still in flight is aborted before this rejects.
 */
export async function ingest(
  ctx: GatewayContext,
  source: AsyncIterable<Buffer>,
  signal: AbortSignal,
): Promise<Ingested> {
  const abort = new AbortController();
  const onAbort = () => abort.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const window = new TaskWindow(ctx.config.uploadConcurrency, abort);
  const holds = new UploadHolds(ctx, (err) => abort.abort(err));
  const fileHash = createHash("sha256");
  const chunks: ChunkRef[] = [];
  // A chunk that repeats within the file (zeros, say) is sealed to the same bytes: store it once.
  const started = new Set<string>();
  let replicas = ctx.config.replicas;
  let size = 0;
  let inline: Buffer | undefined;

  const plainBuffer = ctx.buffers.plain.take();
  const chunker = new Chunker(plainBuffer, async (plain) => {
    // A first chunk that is short is also the last: a small file, kept for its manifest.
    if (
      chunks.length === 0 &&
      plain.length < ctx.config.chunkBytes &&
      plain.length <= ctx.config.inlineMaxBytes
    ) {
      inline = Buffer.from(plain);
      return;
    }
    await window.slot();
    // seal() copies out of the chunker's reused buffer before it is filled again, into a pooled one.
    const buffer = ctx.buffers.sealed.take();
    const sealed = ctx.cipher.seal(plain, buffer);
    chunks.push({ id: sealed.chunkId, plainHash: sealed.plainHash, size: plain.length });
    if (started.has(sealed.chunkId)) return ctx.buffers.sealed.give(buffer);
    started.add(sealed.chunkId);
    const stored = replicate(ctx, sealed.chunkId, sealed.ciphertext, {
      kind: "chunk",
      records: [holds.recordFor(sealed.chunkId)],
      signal: abort.signal,
      // Once every put answered, every byte was sent (perhaps after W of them resolved this one).
      released: () => ctx.buffers.sealed.give(buffer),
    });
    window.add(
      stored.then((addrs) => {
        replicas = Math.min(replicas, addrs.length);
      }),
    );
  });

  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } catch (err) {
        throw sourceError(err);
      }
      if (next.done) break;
      const piece = next.value;
      size += piece.length;
      if (size > ctx.config.maxUploadBytes) {
        throw new DfsError("DFS_ERR_TOO_LARGE", `uploads are limited to ${ctx.config.maxUploadBytes} bytes`);
      }
      fileHash.update(piece);
      ctx.metrics.bytesIn.inc(piece.length);
      await chunker.push(piece);
    }
    await chunker.end();
    await window.drain();
  } catch (err) {
    abort.abort(err);
    holds.release();
    // Stop reading without destroying: the request must live on to carry our answer.
    await iterator.return?.().catch(() => {});
    await window.settle();
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
    // seal() and the inline copy read it synchronously: nothing refers to it any more.
    ctx.buffers.plain.give(plainBuffer);
  }
  return { hash: fileHash.digest("hex"), size, chunks, inline, replicas, holds };
}
