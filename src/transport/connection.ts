import { Readable } from "node:stream";
import { DfsError, toDfsError } from "../errors.ts";
import { EMPTY, ErrorMsg, type FrameHeader, FrameType, Limits } from "../protocol/index.ts";
import { dial } from "./dial.ts";
import { type FrameSocket, isEnd } from "./frame-socket.ts";
import { GatheredData } from "./gathered-data.ts";
import type { LinkTrust } from "./link.ts";
import { pieces } from "./pieces.ts";
import type { Timeouts } from "./timeouts.ts";

export interface RequestOptions {
  /** A request body streamed after the request frame (PUT). */
  data?: Buffer | Readable | undefined;
  /** The reply is a RESULT followed by DATA frames, handed over as a stream (GET). */
  stream?: boolean;
  /**
   * The reply is a RESULT followed by DATA frames, copied straight into the buffer this returns
   * for the RESULT's payload; the reply's `data` is that buffer, exactly filled (getBuffer).
   */
  collect?: (payload: Buffer) => Buffer;
  signal?: AbortSignal | undefined;
  /**
   * Small both ways (no streamed body, no bulk answer): the request may share a connection with
   * other small ones (ConnectionPool.acquire), never with a bulk one.
   */
  small?: boolean;
  /** `data` is a whole chunk, which the node checks against its id (FrameSocket.sendData). */
  wholeChunk?: boolean;
}

export interface Reply {
  payload: Buffer;
  stream?: Readable;
  data?: Buffer;
}

/** A request whose body the caller sends piece by piece (a node forwarding a PUT it receives). */
export interface Upload {
  /** Sends a piece; `written` runs once the socket is done with its memory. False: await drained(). */
  write(piece: Buffer, written?: () => void): boolean;
  /** Sends the END frame. */
  end(): void;
  drained(): Promise<void>;
  /** Gives up: fails `reply` with `err` and tells the server to stop. */
  abort(err: DfsError): void;
  /** False once the request is over (answered, failed or abandoned): writing is pointless then. */
  readonly alive: boolean;
  readonly reply: Promise<Reply>;
}

type Mode = "result" | "stream" | "collect";

interface Pending {
  resolve(reply: Reply): void;
  reject(err: DfsError): void;
  readonly mode: Mode;
  readonly collect: ((payload: Buffer) => Buffer) | undefined;
  /** collect: the RESULT's payload and the buffer being filled. */
  payload?: Buffer;
  into?: Buffer;
  filled: number;
  /** stream: the consumer's stream and the DATA frame being assembled for it. */
  stream?: Readable;
  frame?: Buffer;
  frameFill: number;
  timer: NodeJS.Timeout;
  done: boolean;
  readonly small: boolean;
}

/**
 * The client side of one authenticated connection: many requests multiplexed by request id.
 * Every request has an inactivity timeout and can be cancelled; a closed connection fails all of
 * its requests at once and leaves no timers behind.
 *
 * Socket reads land in a shared buffer (socket-reads.ts), so reply bytes are copied out exactly
 * once: into the caller's buffer (collect), or into one Buffer per DATA frame, which the stream's
 * consumer then owns (stream).
 */
export class ClientConnection {
  readonly addr: string;
  readonly nodeId: string;
  readonly #fs: FrameSocket;
  readonly #timeouts: Timeouts;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closeError: DfsError | undefined;

  private constructor(addr: string, nodeId: string, fs: FrameSocket, timeouts: Timeouts) {
    this.addr = addr;
    this.nodeId = nodeId;
    this.#fs = fs;
    this.#timeouts = timeouts;
  }

  static async connect(
    addr: string,
    trust: LinkTrust,
    expectedNodeId: string | undefined,
    timeouts: Timeouts,
  ): Promise<ClientConnection> {
    const d = await dial(addr, trust, expectedNodeId, timeouts);
    const conn = new ClientConnection(addr, d.peer.id, d.fs, timeouts);
    d.route({
      onFrame: (h, body) => conn.#onFrame(h, body),
      onData: (h, piece) => conn.#onData(h, piece),
      onDataEnd: (h) => conn.#onDataEnd(h),
    });
    d.fs.onClose((err) => conn.#onClose(err));
    return conn;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  get closed(): boolean {
    return this.#fs.closed;
  }

  /**
   * True while this turn's frames wait for their flush (FrameSocket.batching) and every request in
   * flight is small: another small request joins them at no cost and cannot be held up by a stream.
   */
  get joinable(): boolean {
    if (!this.#fs.batching) return false;
    for (const p of this.#pending.values()) if (!p.small) return false;
    return true;
  }

  request(type: FrameType, body: Buffer, options: RequestOptions = {}): Promise<Reply> {
    const data = options.data;
    if (Buffer.isBuffer(data) && data.length <= Limits.MAX_DATA_BODY) {
      // A small body: request, data and end in one write (a small upload's manifest, say).
      this.#fs.socket.cork();
      const { id, reply } = this.#start(type, body, options);
      if (id !== 0) this.#fs.sendData(id, data, true, undefined, options.wholeChunk);
      this.#fs.socket.uncork();
      return reply;
    }
    const started = this.#start(type, body, options);
    if (options.data !== undefined && started.id !== 0) {
      const { id, p } = started;
      this.#pump(id, p, options.data, options.wholeChunk === true).catch((err: unknown) =>
        this.#abandon(id, toDfsError(err)),
      );
    }
    return started.reply;
  }

  /**
   * Starts a request whose body follows through the returned Upload; the reply is a RESULT. Its
   * pieces are gathered into frames (GatheredData).
   */
  upload(type: FrameType, body: Buffer, signal?: AbortSignal, wholeChunk = false): Upload {
    const { id, p, reply } = this.#start(type, body, { signal });
    const fs = this.#fs;
    const alive = () => id !== 0 && this.#pending.get(id) === p && !fs.closed;
    const data = new GatheredData(fs, id, wholeChunk, alive);
    return {
      write(piece, written) {
        if (!alive()) {
          data.flush(false);
          written?.();
          return true;
        }
        p?.timer.refresh();
        return data.write(piece, written);
      },
      end() {
        data.flush(true);
      },
      drained: () => fs.drained(),
      abort: (err) => {
        this.#abandon(id, err);
        data.flush(false);
      },
      get alive() {
        return alive();
      },
      reply,
    };
  }

  close(): void {
    this.#fs.close();
  }

  destroy(): void {
    this.#fs.destroy();
  }

  /** Sends the request frame and registers it; id 0 means it failed at once (see `reply`). */
  #start(
    type: FrameType,
    body: Buffer,
    options: RequestOptions,
  ): { id: number; p: Pending | undefined; reply: Promise<Reply> } {
    if (this.#fs.closed) {
      return {
        id: 0,
        p: undefined,
        reply: Promise.reject(this.#closeError ?? new DfsError("DFS_ERR_CLOSED")),
      };
    }
    const signal = options.signal;
    if (signal?.aborted)
      return { id: 0, p: undefined, reply: Promise.reject(new DfsError("DFS_ERR_CANCELLED")) };
    const id = this.#allocateId();
    let p!: Pending;
    const reply = new Promise<Reply>((resolve, reject) => {
      p = {
        resolve,
        reject,
        mode: options.collect ? "collect" : options.stream ? "stream" : "result",
        collect: options.collect,
        filled: 0,
        frameFill: 0,
        timer: setTimeout(
          () => this.#abandon(id, new DfsError("DFS_ERR_TIMEOUT", `${this.addr}: request timed out`)),
          this.#timeouts.requestMs,
        ),
        done: false,
        small: options.small === true,
      };
    });
    if (signal) {
      const onAbort = () => this.#abandon(id, new DfsError("DFS_ERR_CANCELLED"));
      signal.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => signal.removeEventListener("abort", onAbort);
      const { resolve, reject } = p;
      p.resolve = (r) => {
        if (!r.stream) cleanup();
        else r.stream.once("close", cleanup);
        resolve(r);
      };
      p.reject = (err) => {
        cleanup();
        reject(err);
      };
    }
    this.#pending.set(id, p);
    this.#fs.send(type, id, body);
    return { id, p, reply };
  }

  #allocateId(): number {
    do {
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    } while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  async #pump(
    id: number,
    p: Pending | undefined,
    data: Buffer | Readable,
    wholeChunk: boolean,
  ): Promise<void> {
    const alive = () => this.#pending.get(id) === p && !this.#fs.closed;
    const send = async (piece: Buffer) => {
      p!.timer.refresh();
      if (!this.#fs.sendData(id, piece, false, undefined, wholeChunk)) await this.#fs.drained();
    };
    if (Buffer.isBuffer(data)) {
      // Up to a few frames per call (one writev), then see whether the socket wants a pause.
      for (let off = 0; off < data.length && alive(); off += Limits.MAX_DATA_BODY) {
        await send(data.subarray(off, off + Limits.MAX_DATA_BODY));
      }
    } else {
      try {
        for await (const piece of pieces(data)) {
          if (!alive()) break;
          await send(piece);
        }
      } finally {
        if (!alive()) data.destroy();
      }
    }
    if (alive()) this.#fs.sendData(id, EMPTY, true, undefined, wholeChunk);
  }

  /** Gives up on a request locally and tells the server to stop working on it. */
  #abandon(id: number, err: DfsError): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.#finish(p, err);
    if (!this.#fs.closed) this.#fs.send(FrameType.CANCEL, id);
  }

  #finish(p: Pending, err: DfsError): void {
    clearTimeout(p.timer);
    this.#fs.resume(p);
    if (p.stream) p.stream.destroy(err);
    else if (!p.done) p.reject(err);
    p.done = true;
  }

  #onFrame(h: FrameHeader, body: Buffer): void {
    const p = this.#pending.get(h.requestId);
    if (h.type === FrameType.ERROR) {
      const e = ErrorMsg.decode(body);
      const err = new DfsError(e.code, e.message, { details: { addr: this.addr } });
      if (h.requestId === 0) return this.#fs.destroy(err);
      if (!p) return;
      this.#pending.delete(h.requestId);
      return this.#finish(p, err);
    }
    if (h.type !== FrameType.RESULT || !p || p.stream || p.payload) return;
    p.timer.refresh();
    if (p.mode === "result") {
      this.#pending.delete(h.requestId);
      clearTimeout(p.timer);
      p.done = true;
      return p.resolve({ payload: body });
    }
    if (p.mode === "collect") {
      p.payload = body;
      try {
        p.into = p.collect!(body);
      } catch (err) {
        this.#abandon(h.requestId, toDfsError(err, "DFS_ERR_PROTOCOL"));
      }
      return;
    }
    p.stream = new Readable({
      highWaterMark: 1024 * 1024,
      read: () => this.#fs.resume(p),
      destroy: (err, cb) => {
        // A consumer that stops reading early cancels the request on the server.
        if (this.#pending.get(h.requestId) === p)
          this.#abandon(h.requestId, new DfsError("DFS_ERR_CANCELLED"));
        cb(err);
      },
    });
    p.done = true;
    p.resolve({ payload: body, stream: p.stream });
  }

  /** `piece` is a view into the shared read buffer: copied out before returning. */
  #onData(h: FrameHeader, piece: Buffer): void {
    const p = this.#pending.get(h.requestId);
    if (!p || piece.length === 0) return;
    if (p.into) {
      if (p.filled + piece.length > p.into.length) {
        return this.#abandon(
          h.requestId,
          new DfsError("DFS_ERR_PROTOCOL", `${this.addr} sent more than announced`),
        );
      }
      p.timer.refresh();
      p.filled += piece.copy(p.into, p.filled);
      return;
    }
    if (!p.stream) return;
    p.timer.refresh();
    // One Buffer per DATA frame (256 KiB): the consumer owns it, and gets a few large pieces.
    p.frame ??= Buffer.allocUnsafe(h.length);
    p.frameFill += piece.copy(p.frame, p.frameFill);
  }

  #onDataEnd(h: FrameHeader): void {
    const p = this.#pending.get(h.requestId);
    if (!p) return;
    if (p.into) {
      if (!isEnd(h)) return;
      this.#pending.delete(h.requestId);
      clearTimeout(p.timer);
      if (p.filled !== p.into.length) {
        this.#fs.send(FrameType.CANCEL, h.requestId);
        return this.#finish(p, new DfsError("DFS_ERR_PROTOCOL", `${this.addr} sent less than announced`));
      }
      p.done = true;
      return p.resolve({ payload: p.payload!, data: p.into });
    }
    if (!p.stream) return;
    const frame = p.frame;
    p.frame = undefined;
    p.frameFill = 0;
    if (frame && !p.stream.push(frame)) this.#fs.pause(p);
    if (!isEnd(h)) return;
    this.#pending.delete(h.requestId);
    clearTimeout(p.timer);
    p.stream.push(null);
  }

  #onClose(err: DfsError | undefined): void {
    this.#closeError = new DfsError(
      "DFS_ERR_UNAVAILABLE",
      `${this.addr}: ${err?.message ?? "connection closed"}`,
      {
        cause: err,
      },
    );
    for (const p of this.#pending.values()) this.#finish(p, this.#closeError);
    this.#pending.clear();
  }
}
