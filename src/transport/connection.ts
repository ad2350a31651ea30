import { connect } from "node:net";
import { Readable } from "node:stream";
import { parseHostPort } from "../config/index.ts";
import { DfsError, toDfsError } from "../errors.ts";
import {
  clientProof,
  ErrorMsg,
  type FrameHeader,
  FrameType,
  Limits,
  NONCE_BYTES,
  NodeIdMsg,
  newNonce,
  PROOF_BYTES,
  proofsEqual,
  serverProof,
} from "../protocol/index.ts";
import { FrameSocket, isEnd } from "./frame-socket.ts";
import { pieces } from "./pieces.ts";
import type { Timeouts } from "./timeouts.ts";

export interface RequestOptions {
  /** A request body streamed after the request frame (PUT). */
  data?: Buffer | Readable | undefined;
  /** The reply is a RESULT followed by DATA frames (GET). */
  stream?: boolean;
  signal?: AbortSignal | undefined;
}

export interface Reply {
  payload: Buffer;
  stream?: Readable;
}

interface Pending {
  resolve(reply: Reply): void;
  reject(err: DfsError): void;
  wantsStream: boolean;
  stream?: Readable;
  timer: NodeJS.Timeout;
  done: boolean;
}

/**
 * The client side of one authenticated connection: many requests multiplexed by request id.
 * Every request has an inactivity timeout and can be cancelled; a closed connection fails all of
 * its requests at once and leaves no timers behind.
 */
export class ClientConnection {
  readonly addr: string;
  readonly #fs: FrameSocket;
  readonly #timeouts: Timeouts;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #nodeId = "";
  #closeError: DfsError | undefined;

  private constructor(addr: string, fs: FrameSocket, timeouts: Timeouts) {
    this.addr = addr;
    this.#fs = fs;
    this.#timeouts = timeouts;
  }

  static async connect(addr: string, secret: Buffer, timeouts: Timeouts): Promise<ClientConnection> {
    const target = parseHostPort(addr);
    if (!target) throw new DfsError("DFS_ERR_BAD_REQUEST", `not a host:port address: ${addr}`);
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    let conn: ClientConnection | undefined;
    const nonceC = newNonce();
    return new Promise<ClientConnection>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new DfsError("DFS_ERR_TIMEOUT", `connect to ${addr} timed out`)),
        timeouts.connectMs,
      );
      let settled = false;
      const fail = (err: DfsError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fs.destroy(err);
        reject(
          err.code === "DFS_ERR_CLOSED"
            ? new DfsError("DFS_ERR_UNAVAILABLE", `${addr}: ${err.message}`, { cause: err })
            : err,
        );
      };
      const fs = new FrameSocket(socket, {
        onFrame: (h, body) => {
          if (conn) return conn.#onFrame(h, body);
          if (h.type === FrameType.CHALLENGE && body.length === NONCE_BYTES + PROOF_BYTES) {
            const nonceS = body.subarray(0, NONCE_BYTES);
            if (!proofsEqual(body.subarray(NONCE_BYTES), serverProof(secret, nonceC, nonceS))) {
              return fail(new DfsError("DFS_ERR_AUTH", `${addr} does not know the cluster secret`));
            }
            fs.send(FrameType.AUTH, 0, clientProof(secret, nonceC, nonceS));
          } else if (h.type === FrameType.READY) {
            settled = true;
            clearTimeout(timer);
            conn = new ClientConnection(addr, fs, timeouts);
            conn.#nodeId = NodeIdMsg.decode(body);
            fs.onClose((err) => conn!.#onClose(err));
            resolve(conn);
          } else if (h.type === FrameType.ERROR) {
            const e = ErrorMsg.decode(body);
            fail(new DfsError(e.code, `${addr}: ${e.message}`));
          } else {
            fail(new DfsError("DFS_ERR_PROTOCOL", `${addr}: unexpected frame during handshake`));
          }
        },
        onData: (h, piece) => {
          if (conn) conn.#onData(h, piece);
        },
        onDataEnd: (h) => {
          if (conn) conn.#onDataEnd(h);
        },
      });
      fs.onClose((err) => fail(err ?? new DfsError("DFS_ERR_CLOSED")));
      socket.once("connect", () => fs.send(FrameType.HELLO, 0, nonceC));
    });
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  get closed(): boolean {
    return this.#fs.closed;
  }

  request(type: FrameType, body: Buffer, options: RequestOptions = {}): Promise<Reply> {
    if (this.#fs.closed) return Promise.reject(this.#closeError ?? new DfsError("DFS_ERR_CLOSED"));
    if (options.signal?.aborted) return Promise.reject(new DfsError("DFS_ERR_CANCELLED"));
    const id = this.#allocateId();
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = {
        resolve,
        reject,
        wantsStream: options.stream === true,
        timer: setTimeout(
          () => this.#abandon(id, new DfsError("DFS_ERR_TIMEOUT", `${this.addr}: request timed out`)),
          this.#timeouts.requestMs,
        ),
        done: false,
      };
      this.#pending.set(id, p);
      const onAbort = () => this.#abandon(id, new DfsError("DFS_ERR_CANCELLED"));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => options.signal?.removeEventListener("abort", onAbort);
      p.resolve = (reply) => {
        if (!reply.stream) cleanup();
        else reply.stream.once("close", cleanup);
        resolve(reply);
      };
      p.reject = (err) => {
        cleanup();
        reject(err);
      };
      this.#fs.send(type, id, body);
      if (options.data !== undefined) {
        this.#pump(id, p, options.data).catch((err: unknown) => this.#abandon(id, toDfsError(err)));
      }
    });
  }

  close(): void {
    this.#fs.close();
  }

  destroy(): void {
    this.#fs.destroy();
  }

  #allocateId(): number {
    do {
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    } while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  async #pump(id: number, p: Pending, data: Buffer | Readable): Promise<void> {
    const alive = () => this.#pending.get(id) === p && !this.#fs.closed;
    const send = async (piece: Buffer) => {
      p.timer.refresh();
      if (!this.#fs.sendData(id, piece)) await this.#fs.drained();
    };
    if (Buffer.isBuffer(data)) {
      for (let off = 0; off < data.length && alive(); off += Limits.DATA_PIECE) {
        await send(data.subarray(off, off + Limits.DATA_PIECE));
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
    if (alive()) this.#fs.sendData(id, Buffer.alloc(0), true);
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
    if (h.type !== FrameType.RESULT || !p || p.stream) return;
    p.timer.refresh();
    if (!p.wantsStream) {
      this.#pending.delete(h.requestId);
      clearTimeout(p.timer);
      p.done = true;
      return p.resolve({ payload: body });
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

  #onData(h: FrameHeader, piece: Buffer): void {
    const p = this.#pending.get(h.requestId);
    if (!p?.stream || piece.length === 0) return;
    p.timer.refresh();
    if (!p.stream.push(piece)) this.#fs.pause(p);
  }

  #onDataEnd(h: FrameHeader): void {
    if (!isEnd(h)) return;
    const p = this.#pending.get(h.requestId);
    if (!p?.stream) return;
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
