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
} from "../protocol/index.ts";

/**
 * A socket speaking frames: decodes what arrives into the sink, writes frames with backpressure,
 * and lets several streams pause the socket independently (it resumes when none holds it).
 * Both the server session and the client connection are built on it.
 */
export class FrameSocket {
  readonly socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #pausedBy = new Set<unknown>();
  #closed = false;
  #onClose: ((err: DfsError | undefined) => void) | undefined;

  constructor(socket: Socket, sink: FrameSink) {
    this.socket = socket;
    this.#decoder = new FrameDecoder(sink);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      if (this.#closed) return;
      try {
        this.#decoder.push(chunk);
      } catch (err) {
        this.fail(toDfsError(err, "DFS_ERR_PROTOCOL"));
      }
    });
    socket.on("error", (err) => this.#finish(new DfsError("DFS_ERR_CLOSED", err.message, { cause: err })));
    socket.on("close", () => {
      const truncated = this.#decoder.midFrame;
      this.#finish(
        new DfsError("DFS_ERR_CLOSED", truncated ? "connection closed mid-frame" : "connection closed"),
      );
    });
    socket.on("end", () => socket.end());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while a frame has started to arrive but is not complete. */
  get midFrame(): boolean {
    return this.#decoder.midFrame;
  }

  /** Called once, when the socket is gone; `err` says why. */
  onClose(handler: (err: DfsError | undefined) => void): void {
    this.#onClose = handler;
  }

  send(type: FrameType, requestId: number, body: Buffer = EMPTY, flags = 0): boolean {
    if (this.#closed) return false;
    return this.socket.write(encodeFrame(type, requestId, body, flags));
  }

  /** Sends a stream piece; splits pieces over the frame limit. Returns false when the caller should wait for drain. */
  sendData(requestId: number, piece: Buffer, end = false): boolean {
    if (this.#closed) return false;
    let ok = true;
    let offset = 0;
    do {
      const part = piece.subarray(offset, offset + Limits.MAX_DATA_BODY);
      offset += part.length;
      const last = offset >= piece.length;
      // cork + two writes: the header and the piece go out together without copying the piece.
      this.socket.cork();
      this.socket.write(
        encodeHeader(FrameType.DATA, requestId, part.length, last && end ? FrameFlags.END : 0),
      );
      ok = this.socket.write(part);
      this.socket.uncork();
    } while (offset < piece.length);
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
    this.#pausedBy.clear();
    const handler = this.#onClose;
    this.#onClose = undefined;
    handler?.(err);
  }
}

export function isEnd(header: FrameHeader): boolean {
  return (header.flags & FrameFlags.END) !== 0;
}
