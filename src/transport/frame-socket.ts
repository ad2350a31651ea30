import type { Socket } from "node:net";
import { DfsError, toDfsError } from "../errors.ts";
import {
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
  TAG_BYTES,
} from "../protocol/index.ts";
import { installUserBuffer } from "./socket-reads.ts";

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
 * which is what keeps both sides' counters in step.
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
    const header = encodeHeader(type, requestId, body.length + TAG_BYTES, flags);
    return this.socket.write(Buffer.concat([header, seal.seal(header, body)]));
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
   * headers (FrameFlags.BYTES_TAGGED off); every other stream is tagged byte for byte.
   */
  sendData(requestId: number, piece: Buffer, end = false, written?: () => void, wholeChunk = false): boolean {
    if (this.#closed) {
      written?.();
      return false;
    }
    let ok = true;
    let offset = 0;
    // cork: the headers and the pieces go out in one writev, without copying the pieces.
    this.socket.cork();
    do {
      const part = piece.subarray(offset, offset + Limits.DATA_PIECE);
      offset += part.length;
      const last = offset >= piece.length;
      const flags = last && end ? FrameFlags.END : 0;
      const seal = this.#seal;
      if (seal === undefined) {
        this.socket.write(encodeHeader(FrameType.DATA, requestId, part.length, flags));
        ok = last && written ? this.socket.write(part, written) : this.socket.write(part);
      } else {
        const tagged = wholeChunk ? flags : flags | FrameFlags.BYTES_TAGGED;
        const header = encodeHeader(FrameType.DATA, requestId, part.length + TAG_BYTES, tagged);
        const tag = seal.mac(header, wholeChunk ? EMPTY : part);
        this.socket.write(header);
        if (part.length > 0) this.socket.write(part);
        ok = last && written ? this.socket.write(tag, written) : this.socket.write(tag);
      }
    } while (offset < piece.length);
    this.socket.uncork();
    return ok;
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
    this.socket.end();
    // A peer that never reads our goodbye must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.#finish(err);
  }

  close(): void {
    if (this.#closed) return;
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
