import { DfsError, type ErrorCode, ErrorCodes, toDfsError } from "../errors.ts";
import type { PutRequest } from "../protocol/messages.ts";
import type { PutResult } from "../protocol/types.ts";
import type { BodyConsumer, LentPiece, NodeClient, PutUpload } from "../transport/index.ts";
import type { PutBody } from "./manifest-gate.ts";
import type { ObjectStore, ObjectWriter } from "./store/index.ts";
import { drainOrClose } from "./streams.ts";

/**
 * A PUT with a forward list is a pipeline (as in HDFS): each piece is written here and passed on
 * to the next node as it arrives, so a chain of three costs about one transfer time, not three.
 * The answer lists every node of the chain that now holds the object durably, and every one that
 * failed and why. A node that cannot store (full disk, say) still forwards: one bad disk does not
 * break the chain.
 *
 * Forwarding starts as soon as the next node's connection is ready, without waiting for the local
 * temp file to be created (a thread-pool round trip that can wait behind fsyncs: measured 2-4 ms
 * per hop under load, on the critical path of every chunk). Pieces for the local file wait in
 * the meantime.
 *
 * Pieces arrive lent from the transport's slab pool: the file write and the forward each retain
 * a piece and release it when their write completed, so its memory is reused only after both.
 *
 * Only the end of the chain hashes the body as it arrives (as HDFS lets only the last datanode of
 * a pipeline check checksums): every node before it writes the same pieces it forwards, so when
 * the next node stored them they matched the id, and a second SHA-256 pass per hop would buy
 * nothing. A node whose next node did not store the object (failed, unreachable, or refused the
 * bytes) hashes its own copy before it publishes it. Either way nothing unverified becomes
 * visible; the cost is that a node's rename waits for the next node's answer.
 *
 * The space a PUT reserves (createWriter) is held only while its body moves: one that brings
 * nothing for `stallMs` fails with DFS_ERR_TIMEOUT and releases it (a vanished peer's connection
 * closing releases it at once). What the answer says of the next node is its code and the
 * catalogue's words, never its own text: "not reachable" when it could not be dialled.
 */
export interface ChainPutContext {
  store: ObjectStore;
  peers: NodeClient;
  selfAddr: string;
  stallMs: number;
  /** Called once the body has arrived, or failed: the PUT's records may commit now (put-records.ts). */
  bodyArrived?: () => void;
}

export async function chainPut(
  ctx: ChainPutContext,
  req: PutRequest,
  body: PutBody,
  signal: AbortSignal,
): Promise<PutResult> {
  const { store, peers, selfAddr } = ctx;
  const [next, ...rest] = req.forward;
  // Inside a chain the hash waits: the next node checks the very bytes this one writes.
  const opening = store.createWriter({
    kind: req.kind,
    id: req.id,
    size: req.size,
    checksum: req.checksum,
    hashLater: next !== undefined,
  });
  const failed: PutResult["failed"] = [];
  const pipe = new Pipe(body, ctx.stallMs);
  let upload: PutUpload | undefined;
  let downstream: Promise<PutResult> = Promise.resolve({ stored: [], failed: [] });
  let local: Promise<ObjectWriter | undefined>;
  if (next === undefined) {
    // The end of the chain: a node that cannot store answers with the error at once.
    pipe.setWriter(await opening);
    local = opening;
  } else {
    local = opening.then(
      (writer) => pipe.setWriter(writer),
      (err: unknown) => {
        const e = toDfsError(err);
        failed.push({ addr: selfAddr, code: e.code, message: e.message });
        return pipe.setWriter(undefined);
      },
    );
    try {
      upload = await peers.openPut(next, req.id, req.size, {
        kind: req.kind,
        checksum: req.checksum,
        forward: rest,
        records: req.records,
        signal,
      });
      if (upload.peerId === store.nodeId) {
        // An address of this very node (an alias its record does not show): it would loop.
        upload.abort(new DfsError("DFS_ERR_FORWARD_REFUSED"));
        upload = undefined;
        downstream = Promise.resolve(
          failedDownstream(req.forward, "DFS_ERR_FORWARD_REFUSED", "names this node"),
        );
      } else {
        downstream = upload.result.catch((err: unknown) => {
          const code = toDfsError(err).code;
          return failedDownstream(req.forward, code, ErrorCodes[code].message);
        });
      }
    } catch {
      downstream = Promise.resolve(failedDownstream(req.forward, "DFS_ERR_UNAVAILABLE", "not reachable"));
    }
    pipe.setUpload(upload);
  }

  pipe.start();
  try {
    await pipe.finished;
    ctx.bodyArrived?.();
  } catch (err) {
    ctx.bodyArrived?.();
    // The upstream went away or cancelled: nothing of this request may become visible here.
    upload?.abort(toDfsError(err, "DFS_ERR_CANCELLED"));
    await (await local)?.abort();
    await downstream;
    throw toDfsError(err, "DFS_ERR_CANCELLED");
  }
  upload?.end();

  // Once the file is open, every piece has been handed to it (setWriter), so commit ends it.
  const writer = await local;
  if (writer) {
    try {
      if (pipe.localError) throw pipe.localError;
      await writer.commit(next === undefined ? undefined : downstream.then((r) => r.stored.includes(next)));
    } catch (err) {
      const e = toDfsError(err);
      await writer.abort();
      failed.unshift({ addr: selfAddr, code: e.code, message: e.message });
    }
  }
  const downResult = await downstream;
  const stored = [...(writer && failed[0]?.addr !== selfAddr ? [selfAddr] : []), ...downResult.stored];
  const allFailed = [...failed, ...downResult.failed];
  if (stored.length === 0) {
    const first = allFailed[0];
    throw new DfsError(first?.code ?? "DFS_ERR_INTERNAL", first?.message ?? "no node stored the object");
  }
  return { stored, failed: allFailed };
}

/** Every node from the next on failed with `code`; `message` says nothing the next node said. */
function failedDownstream(forward: readonly string[], code: ErrorCode, message: string): PutResult {
  return { stored: [], failed: forward.map((addr) => ({ addr, code, message })) };
}

/** Pieces held for a local file that is still being created; past this, the body pauses. */
const WAITING_BYTES = 1024 * 1024;

/** Feeds each piece to the local file and the next node; pauses the body while either is behind. */
class Pipe implements BodyConsumer {
  readonly finished: Promise<void>;
  localError: DfsError | undefined;
  readonly #body: PutBody;
  /** undefined while the local file is being created; null when there is none. */
  #writer: ObjectWriter | null | undefined;
  #writerReady!: () => void;
  readonly #writerSet: Promise<void>;
  #waiting: LentPiece[] = [];
  #waitingBytes = 0;
  #upload: PutUpload | undefined;
  #resuming = false;
  #settled = false;
  #settle!: (err?: DfsError) => void;
  readonly #stallMs: number;
  /** Fails the body when nothing arrives for stallMs; refreshed by every piece and resume. */
  #stall: NodeJS.Timeout | undefined;

  constructor(body: PutBody, stallMs: number) {
    this.#body = body;
    this.#stallMs = stallMs;
    this.finished = new Promise<void>((resolve, reject) => {
      this.#settle = (err) => {
        if (this.#settled) return;
        this.#settled = true;
        clearTimeout(this.#stall);
        if (err) reject(err);
        else resolve();
      };
    });
    // Nobody awaits it when the PUT fails before its body is consumed.
    this.finished.catch(() => {});
    this.#writerSet = new Promise((resolve) => {
      this.#writerReady = resolve;
    });
  }

  /** Starts taking the body's pieces, and the stall timer. */
  start(): void {
    const ms = this.#stallMs;
    this.#stall = setTimeout(
      () => this.abort(new DfsError("DFS_ERR_TIMEOUT", `the body brought nothing for ${ms} ms`)),
      ms,
    );
    this.#stall.unref();
    this.#body.consume(this);
  }

  /** The local file is open (or could not be): pieces held for it go in now. Returns it. */
  setWriter(writer: ObjectWriter | undefined): ObjectWriter | undefined {
    this.#writer = writer ?? null;
    writer?.on("error", (err: unknown) => {
      this.localError ??= toDfsError(err);
    });
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#waitingBytes = 0;
    for (const piece of waiting) {
      this.#toFile(piece);
      piece.release(); // the hold taken while the file was being created
    }
    this.#writerReady();
    return writer;
  }

  setUpload(upload: PutUpload | undefined): void {
    this.#upload = upload;
  }

  piece(piece: LentPiece): boolean {
    if (this.#settled) return true;
    this.#stall?.refresh();
    let more = true;
    if (this.#writer === undefined) {
      this.#waiting.push(piece.retain());
      this.#waitingBytes += piece.length;
      more = this.#waitingBytes < WAITING_BYTES;
    } else {
      more = this.#toFile(piece);
    }
    const upload = this.#upload;
    if (upload?.alive) {
      piece.retain();
      more = upload.write(piece.bytes, () => piece.release()) && more;
    }
    if (!more) void this.#resumeWhenReady();
    return more;
  }

  end(): void {
    this.#settle();
  }

  abort(err: DfsError): void {
    for (const piece of this.#waiting) piece.release();
    this.#waiting = [];
    this.#settle(err);
  }

  /** Writes a piece to the local file (holding it until written); false when the file wants a pause. */
  #toFile(piece: LentPiece): boolean {
    const writer = this.#writer;
    if (!writer || this.localError || writer.destroyed) return true;
    piece.retain();
    return writer.write(piece.bytes, () => piece.release());
  }

  async #resumeWhenReady(): Promise<void> {
    if (this.#resuming) return;
    this.#resuming = true;
    await this.#writerSet;
    const waits: Promise<void>[] = [];
    if (this.#writer) waits.push(drainOrClose(this.#writer));
    if (this.#upload?.alive) waits.push(this.#upload.drained());
    await Promise.all(waits);
    this.#resuming = false;
    if (!this.#settled) this.#stall?.refresh();
    this.#body.resume();
  }
}
