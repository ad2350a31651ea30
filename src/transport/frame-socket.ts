import type { Socket } from "node:net";
import { DfsError, toDfsError } from "../errors.ts";
import {
  type BatchedFrame,
  batchable,
  EMPTY,
  ErrorMsg,
  encodeFrame,
  encodeHeader,
  FrameDecoder,
  FrameFlags,
  type FrameHeader,
  type FrameSink,
  FrameType,
  Limits,
  type LinkKeys,
  type SealingKey,
  sealBatch,
  TAG_BYTES,
} from "../protocol/index.ts";
import { PendingBatch } from "./pending-batch.ts";
import { installUserBuffer } from "./socket-reads.ts";

/**
 * On a sealed link a frame whose body is at most this long waits for the end of the event-loop
 * turn and is sealed with the turn's other small frames in one BATCH (src/protocol/batch.ts): one
 * GCM context per flush instead of one per frame (each costs several µs and a JavaScript object).
 * A longer one (a chunk's DATA) is sealed alone, its tag over its header only when it is part of
 * a whole chunk, so its bytes are neither copied nor encrypted.
 */
export const BATCHED_BODY_MAX = 16 * 1024;

/**
 * A socket speaking frames: decodes what arrives into the sink, writes frames with backpressure,
 * and lets several streams pause the socket independently (it resumes when none holds it).
 * Both the server session and the client connection are built on it.
 *
 * Reads land in a reused buffer (socket-reads.ts): DATA pieces given to the sink are views that
 * are valid only during the call. A client socket is created with `onread` pointing at
 * `push()` (`routed`); an accepted socket is switched over here.
 *
 * Once `secure(keys)` is called (the handshake is done) every frame sent is sealed and every frame
 * received must be (src/protocol/seal.ts): the order of calls here is the order of bytes on the wire,
 * which is what keeps both sides' counters in step. Small frames wait in a PendingBatch until the
 * turn's flush (or until a frame that goes alone must follow them), then go as one BATCH.
 */
export class FrameSocket {
  readonly socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #pausedBy = new Set<unknown>();
  #closed = false;
  #onClose: ((err: DfsError | undefined) => void) | undefined;
  #closeError: DfsError | undefined;
  #reads = 0;
  #corked = false;
  #seal: SealingKey | undefined;
  readonly #batch = new PendingBatch();

  constructor(socket: Socket, sink: FrameSink, routed = false) {
    this.socket = socket;
    this.#decoder = new FrameDecoder(sink);
    socket.setNoDelay(true);
    if (!routed && !installUserBuffer(socket, (chunk) => this.push(chunk))) {
      socket.on("data", (chunk: Buffer) => this.push(chunk));
    }
    // Flowing, so that 'end' is emitted (with user-buffer reads no 'data' listener makes it so).
    socket.resume();
    socket.on("error", (err) => this.#finish(new DfsError("DFS_ERR_CLOSED", err.message, { cause: err })));
    socket.on("close", () => {
      const truncated = this.#decoder.midFrame;
      this.#finish(
        new DfsError("DFS_ERR_CLOSED", truncated ? "connection closed mid-frame" : "connection closed"),
      );
    });
    socket.on("end", () => socket.end());
  }

  /** Feeds bytes read from the socket to the decoder; `chunk` is only used during the call. */
  push(chunk: Buffer): void {
    if (this.#closed) return;
    this.#reads++;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.fail(toDfsError(err, "DFS_ERR_PROTOCOL"));
    }
  }

  /** Checks each incoming header before its body is allocated (the handshake's size rules). */
  set admit(check: ((header: FrameHeader) => void) | undefined) {
    this.#decoder.admit = check;
  }

  /** From now on frames are sealed both ways; call between frames in both directions. */
  secure(keys: LinkKeys): void {
    this.#seal = keys.send;
    this.#decoder.admit = undefined;
    this.#decoder.open(keys.receive);
  }

  get secured(): boolean {
    return this.#seal !== undefined;
  }

  /** Socket reads so far: a cheap "did anything arrive" for idle timers. */
  get reads(): number {
    return this.#reads;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while a frame has started to arrive but is not complete. */
  get midFrame(): boolean {
    return this.#decoder.midFrame;
  }

  /** Called once, when the socket is gone (at once if it is gone already); `err` says why. */
  onClose(handler: (err: DfsError | undefined) => void): void {
    if (this.#closed) return handler(this.#closeError);
    this.#onClose = handler;
  }

  send(type: FrameType, requestId: number, body: Buffer = EMPTY, flags = 0): boolean {
    if (this.#closed) return false;
    this.#coalesce();
    const seal = this.#seal;
    if (seal === undefined) return this.socket.write(encodeFrame(type, requestId, body, flags));
    // READY goes alone: it is the server's key confirmation, a frame of its own.
    if (body.length <= BATCHED_BODY_MAX && batchable(type))
      return this.#toBatch({ type, requestId, flags, body });
    this.#flushBatch();
    return this.#writeSealed(seal, type, requestId, body, flags);
  }

  #writeSealed(seal: SealingKey, type: FrameType, requestId: number, body: Buffer, flags: number): boolean {
    const header = encodeHeader(type, requestId, body.length + TAG_BYTES, flags);
    return this.socket.write(Buffer.concat([header, seal.seal(header, body)]));
  }

  /** Adds a frame to this turn's batch (sealing the batch first when it is full). */
  #toBatch(frame: BatchedFrame, written?: () => void): boolean {
    this.#coalesce();
    if (!this.#batch.fits(frame.body)) this.#flushBatch();
    this.#batch.add(frame, written);
    return !this.socket.writableNeedDrain;
  }

  /**
   * Seals the frames waiting in the batch and writes them: one BATCH, or the frame alone when it is
   * the only one (a DATA frame then with its bytes tagged). Callers of sendData get their `written`
   * once the bytes are copied into the BATCH (after it is written, so that whatever a callback sends
   * comes after it on the wire), or written from where they are.
   */
  #flushBatch(): void {
    if (this.#batch.size === 0) return;
    const { frames, bytes, written } = this.#batch.take();
    const seal = this.#seal;
    const done = () => {
      for (const w of written) w();
    };
    if (this.#closed || seal === undefined) return done();
    if (frames.length > 1) {
      for (const b of sealBatch(seal, frames, bytes)) this.socket.write(b);
      return done();
    }
    const f = frames[0]!;
    if (f.type !== FrameType.DATA) {
      this.#writeSealed(seal, f.type, f.requestId, f.body, f.flags);
      return done();
    }
    const header = encodeHeader(
      FrameType.DATA,
      f.requestId,
      f.body.length + TAG_BYTES,
      f.flags | FrameFlags.BYTES_TAGGED,
    );
    const tag = seal.mac(header, f.body);
    this.socket.write(header);
    if (f.body.length > 0) this.socket.write(f.body);
    this.socket.write(tag, written.length > 0 ? done : undefined);
  }

  /**
   * Holds frames back until the end of this event-loop turn (setImmediate runs after the poll
   * phase) and sends them in one writev: the requests of every HTTP request parsed in one turn, or
   * the answers to every file read that completed in it, cost one syscall per socket, not one
   * each. A loopback write, with the wakeup of its reader, costs tens of µs of CPU on the machines
   * measured (bench/results-2026-11.md), as much as a node's own work on a small read. A nextTick flush
   * batched only what one callback sent.
   */
  #coalesce(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.#corked = false;
      this.#flushBatch();
      this.socket.uncork();
    });
  }

  /** True while frames sent this turn wait for the flush: another request joins them for free. */
  get batching(): boolean {
    return this.#corked;
  }

  /**
   * Sends a stream piece, split into frames of at most DATA_PIECE bytes. `written` runs once the
   * socket is done with `piece` (sent, or failed): only then may its memory be reused. Returns
   * false when the caller should wait for drain. `wholeChunk`: the stream is a whole chunk, which
   * the receiver checks against its id, so on a sealed link its frames' tags cover only their
   * headers (FrameFlags.BYTES_TAGGED off); every other stream is tagged byte for byte. A piece of at
   * most BATCHED_BODY_MAX bytes on a sealed link joins this turn's batch instead, its bytes under the
   * BATCH's tag; it is copied only when the batch is sealed, so it too must stay as it is until
   * `written` runs.
   */
  sendData(requestId: number, piece: Buffer, end = false, written?: () => void, wholeChunk = false): boolean {
    if (this.#closed) {
      written?.();
      return false;
    }
    if (this.#seal !== undefined && piece.length <= BATCHED_BODY_MAX) {
      const flags = end ? FrameFlags.END : 0;
      return this.#toBatch({ type: FrameType.DATA, requestId, flags, body: piece }, written);
    }
    this.#flushBatch();
    let ok = true;
    let offset = 0;
    // cork: the headers and the pieces go out in one writev, without copying the pieces.
    this.socket.cork();
    do {
      const part = piece.subarray(offset, offset + Limits.DATA_PIECE);
      offset += part.length;
      const last = offset >= piece.length;
      const flags = last && end ? FrameFlags.END : 0;
      ok = this.#writeData(requestId, [part], flags, wholeChunk, last ? written : undefined);
    } while (offset < piece.length);
    this.socket.uncork();
    return ok;
  }

  /**
   * Sends `parts` (at most MAX_DATA_BODY bytes in all) as ONE DATA frame, each part written from
   * where it is: a node forwarding a chunk gathers the pieces its socket reads brought (often 64
   * KiB each) into frames of DATA_PIECE, one header and one tag each instead of one per read, on
   * its side and the receiver's. `written`, `end` and `wholeChunk` as for sendData.
   */
  sendDataParts(
    requestId: number,
    parts: readonly Buffer[],
    end: boolean,
    written?: () => void,
    wholeChunk = false,
  ): boolean {
    if (parts.length === 1) return this.sendData(requestId, parts[0]!, end, written, wholeChunk);
    if (this.#closed) {
      written?.();
      return false;
    }
    let total = 0;
    for (const part of parts) total += part.length;
    if (total > Limits.MAX_DATA_BODY) throw new RangeError(`a DATA frame of ${total} bytes`);
    // Small: one copy, and it joins the turn's batch like any small piece.
    if (this.#seal !== undefined && total <= BATCHED_BODY_MAX)
      return this.sendData(requestId, Buffer.concat(parts, total), end, written, wholeChunk);
    this.#flushBatch();
    this.socket.cork();
    const ok = this.#writeData(requestId, parts, end ? FrameFlags.END : 0, wholeChunk, written);
    this.socket.uncork();
    return ok;
  }

  /** One DATA frame of `parts`, sealed as the link is; the socket is corked by the caller. */
  #writeData(
    requestId: number,
    parts: readonly Buffer[],
    flags: number,
    wholeChunk: boolean,
    written: (() => void) | undefined,
  ): boolean {
    let length = 0;
    for (const part of parts) length += part.length;
    const seal = this.#seal;
    const last = parts.length - 1;
    if (seal === undefined) {
      this.socket.write(encodeHeader(FrameType.DATA, requestId, length, flags));
      let ok = true;
      parts.forEach((part, i) => {
        ok = i === last && written ? this.socket.write(part, written) : this.socket.write(part);
      });
      return ok;
    }
    const tagged = wholeChunk ? flags : flags | FrameFlags.BYTES_TAGGED;
    const header = encodeHeader(FrameType.DATA, requestId, length + TAG_BYTES, tagged);
    const tag = seal.mac(header, wholeChunk ? EMPTY : parts);
    this.socket.write(header);
    for (const part of parts) if (part.length > 0) this.socket.write(part);
    return written ? this.socket.write(tag, written) : this.socket.write(tag);
  }

  sendError(requestId: number, err: unknown): void {
    const e = toDfsError(err);
    this.send(FrameType.ERROR, requestId, ErrorMsg.encode({ code: e.code, message: e.message }));
  }

  /** Resolves when the socket can take more, or it closed. */
  drained(): Promise<void> {
    const socket = this.socket;
    if (this.#closed || !socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  /** Stop reading on behalf of `holder` (a stream whose consumer is behind). */
  pause(holder: unknown): void {
    this.#pausedBy.add(holder);
    this.socket.pause();
  }

  resume(holder: unknown): void {
    if (!this.#pausedBy.delete(holder)) return;
    if (this.#pausedBy.size === 0 && !this.#closed) this.socket.resume();
  }

  /** Reports `err` to the peer (on request id 0) and closes. */
  fail(err: DfsError): void {
    if (this.#closed) return;
    this.sendError(0, err);
    this.#flushBatch();
    this.socket.end();
    // A peer that never reads our goodbye must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.#finish(err);
  }

  close(): void {
    if (this.#closed) return;
    this.#flushBatch();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.#finish(undefined);
  }

  destroy(err?: DfsError): void {
    this.socket.destroy();
    this.#finish(err);
  }

  #finish(err: DfsError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = err;
    this.#pausedBy.clear();
    const handler = this.#onClose;
    this.#onClose = undefined;
    handler?.(err);
  }
}

export function isEnd(header: FrameHeader): boolean {
  return (header.flags & FrameFlags.END) !== 0;
}
