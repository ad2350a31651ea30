import type { Socket } from "node:net";
import type { Logger } from "pino";
import { DfsError, isDfsError, toDfsError } from "../errors.ts";
import type { ObjectSource } from "../formats/index.ts";
import {
  EMPTY,
  type FrameHeader,
  FrameType,
  GetReq,
  GetRes,
  HandshakeSizes,
  HasReq,
  HasRes,
  ListReq,
  ListRes,
  NodeIdMsg,
  PutReq,
  PutRes,
  StatRes,
  SyncReq,
  SyncRes,
  TableReadReq,
  TableReadRes,
  TableWriteReq,
  TableWriteRes,
} from "../protocol/index.ts";
import { BufferPool } from "./buffer-pool.ts";
import { FrameSocket, isEnd } from "./frame-socket.ts";
import type { RequestHandlers, RequestType } from "./handlers.ts";
import { IncomingBody } from "./incoming-body.ts";
import { type LinkTrust, type Peer, ServerHandshake } from "./link.ts";
import type { Timeouts } from "./timeouts.ts";

const MAX_IN_FLIGHT = 256;

/**
 * A GET reads its object in pieces of this size into pooled buffers: a 1 MiB chunk is one file
 * read (one thread-pool round trip) and one writev of four DATA frames.
 */
const GET_READ_BYTES = 1024 * 1024;
const getBuffers = new BufferPool(GET_READ_BYTES, 16);

interface Incoming {
  /** PUT only (the one handler that needs a signal: it forwards down the chain). */
  abort?: AbortController;
  /** PUT only: the body the handler consumes, and how many bytes the peer may still send. */
  body?: IncomingBody;
  remaining?: number;
}

type State = "hello" | "auth" | "ready";

function refuse(message: string): DfsError {
  return new DfsError("DFS_ERR_AUTH", message);
}

/** Before the keys: exactly the handshake message expected next, at its size, on request id 0. */
function admitFor(state: () => State): (h: FrameHeader) => void {
  return (h) => {
    if (h.requestId !== 0) throw refuse("authenticate first (HELLO, AUTH)");
    if (state() === "hello") {
      if (h.type !== FrameType.HELLO) throw refuse("authenticate first (HELLO, AUTH)");
      if (h.length !== HandshakeSizes.HELLO) throw refuse(`HELLO is ${HandshakeSizes.HELLO} bytes`);
    } else {
      if (h.type !== FrameType.AUTH) throw refuse("expected AUTH");
      if (h.length < HandshakeSizes.AUTH_MIN || h.length > HandshakeSizes.AUTH_MAX)
        throw refuse("AUTH of a wrong size");
    }
  };
}

export interface SessionOptions {
  trust: LinkTrust;
  handlers: RequestHandlers;
  log: Logger;
  timeouts: Timeouts;
  /** Called once, when the peer has authenticated (the server stops counting it as a stranger). */
  onAuthenticated(): void;
}

/**
 * The server side of one connection: handshake first (within handshakeMs from accept, whatever
 * arrives), then many requests at once, each a call into the handlers once the peer's role may
 * make it. A request's failure is an ERROR frame for that request id; a protocol violation
 * (garbage, bad lengths, a frame that fails its tag, unauthenticated commands) is an ERROR frame
 * and a close.
 */
export class ServerSession {
  readonly #fs: FrameSocket;
  readonly #handlers: RequestHandlers;
  readonly #log: Logger;
  readonly #timeouts: Timeouts;
  readonly #requests = new Map<number, Incoming>();
  readonly #hs: ServerHandshake;
  readonly #onAuthenticated: () => void;
  readonly #deadline: NodeJS.Timeout;
  #state: State = "hello";
  #peer: Peer | undefined;
  #idleTicks = 0;
  #readsAtTick = 0;
  readonly closed: Promise<void>;

  constructor(socket: Socket, options: SessionOptions) {
    this.#handlers = options.handlers;
    this.#log = options.log;
    this.#timeouts = options.timeouts;
    this.#hs = new ServerHandshake(options.trust);
    this.#onAuthenticated = options.onAuthenticated;
    const timeouts = options.timeouts;
    this.#fs = new FrameSocket(socket, {
      onFrame: (h, body) => this.#onFrame(h, body),
      onData: (h, piece) => this.#onData(h, piece),
      onDataEnd: (h) => this.#onDataEnd(h),
    });
    this.#fs.admit = admitFor(() => this.#state);
    this.#deadline = setTimeout(() => {
      if (this.#state !== "ready") this.#fs.fail(new DfsError("DFS_ERR_TIMEOUT", "handshake timed out"));
    }, timeouts.handshakeMs);
    this.#deadline.unref();
    this.closed = new Promise((resolve) => {
      this.#fs.onClose((err) => {
        clearTimeout(this.#deadline);
        if (err && err.code !== "DFS_ERR_CLOSED")
          this.#log.warn({ code: err.code, err: err.message }, "peer dropped");
        for (const req of this.#requests.values()) {
          req.abort?.abort(err ?? new DfsError("DFS_ERR_CLOSED"));
          req.body?.fail(err ?? new DfsError("DFS_ERR_CLOSED"));
        }
        this.#requests.clear();
        resolve();
      });
    });
    socket.setTimeout(timeouts.frameMs);
    socket.on("timeout", () => this.#onTimeout());
  }

  get inFlight(): number {
    return this.#requests.size;
  }

  /** The authenticated peer; undefined before the handshake is done. */
  get peer(): Peer | undefined {
    return this.#peer;
  }

  /** Closes once in-flight requests are done (the caller bounds how long it waits). */
  close(): void {
    this.#fs.close();
  }

  destroy(): void {
    this.#fs.destroy();
  }

  #onTimeout(): void {
    if (this.#state !== "ready") return this.#fs.fail(new DfsError("DFS_ERR_TIMEOUT", "handshake timed out"));
    if (this.#fs.midFrame) return this.#fs.fail(new DfsError("DFS_ERR_TIMEOUT", "frame stalled part-way"));
    if (this.#fs.reads !== this.#readsAtTick) {
      this.#readsAtTick = this.#fs.reads;
      this.#idleTicks = 0;
    }
    if (this.#requests.size === 0) {
      this.#idleTicks++;
      if (this.#idleTicks * this.#timeouts.frameMs >= this.#timeouts.idleMs) return this.#fs.close();
    }
    this.#fs.socket.setTimeout(this.#timeouts.frameMs);
  }

  #onFrame(h: FrameHeader, body: Buffer): void {
    if (this.#state !== "ready") return this.#handshake(h, body);
    switch (h.type) {
      case FrameType.CANCEL:
      case FrameType.ERROR:
        return this.#cancel(h.requestId);
      case FrameType.PING:
      case FrameType.PUT:
      case FrameType.GET:
      case FrameType.HAS:
      case FrameType.STAT:
      case FrameType.LIST:
      case FrameType.TABLE_WRITE:
      case FrameType.TABLE_READ:
      case FrameType.SYNC:
        return this.#start(h, body);
      default:
        return this.#fs.fail(
          new DfsError("DFS_ERR_PROTOCOL", `unexpected frame type 0x${h.type.toString(16)}`),
        );
    }
  }

  /** `admitFor` let through only the expected message at its size; its content is checked here. */
  #handshake(h: FrameHeader, body: Buffer): void {
    try {
      if (this.#state === "hello" && h.type === FrameType.HELLO) {
        this.#fs.send(FrameType.SERVER_HELLO, 0, this.#hs.onHello(body));
        this.#state = "auth";
        return;
      }
      if (this.#state === "auth" && h.type === FrameType.AUTH) {
        const { keys, peer } = this.#hs.onAuth(body);
        this.#peer = peer;
        this.#state = "ready";
        clearTimeout(this.#deadline);
        this.#fs.secure(keys);
        this.#fs.send(FrameType.READY, 0, EMPTY);
        this.#onAuthenticated();
        return;
      }
    } catch (err) {
      return this.#fs.fail(toDfsError(err, "DFS_ERR_AUTH"));
    }
    this.#fs.fail(new DfsError("DFS_ERR_AUTH", "authenticate first (HELLO, AUTH)"));
  }

  #onData(h: FrameHeader, piece: Buffer): void {
    if (this.#state !== "ready") return this.#fs.fail(new DfsError("DFS_ERR_AUTH", "authenticate first"));
    const req = this.#requests.get(h.requestId);
    // DATA for a request that already failed or was cancelled: the peer had not heard yet. Drop it.
    if (!req?.body || piece.length === 0) return;
    req.remaining! -= piece.length;
    if (req.remaining! < 0) {
      return this.#failRequest(
        h.requestId,
        new DfsError("DFS_ERR_TOO_LARGE", "more bytes than the declared size"),
      );
    }
    if (!req.body.push(piece)) this.#fs.pause(req);
  }

  #onDataEnd(h: FrameHeader): void {
    if (!isEnd(h)) return;
    this.#requests.get(h.requestId)?.body?.end();
  }

  #cancel(requestId: number): void {
    const req = this.#requests.get(requestId);
    if (!req) return;
    this.#requests.delete(requestId);
    this.#fs.resume(req);
    req.abort?.abort(new DfsError("DFS_ERR_CANCELLED"));
    req.body?.fail(new DfsError("DFS_ERR_CANCELLED"));
  }

  #failRequest(requestId: number, err: DfsError): void {
    const req = this.#requests.get(requestId);
    req?.body?.fail(err);
    this.#cancel(requestId);
    this.#fs.sendError(requestId, err);
  }

  #start(h: FrameHeader, body: Buffer): void {
    const id = h.requestId;
    if (id === 0 || this.#requests.has(id)) {
      return this.#fs.fail(
        new DfsError("DFS_ERR_PROTOCOL", `request id ${id} is reserved or already in use`),
      );
    }
    if (this.#requests.size >= MAX_IN_FLIGHT) return this.#fs.sendError(id, new DfsError("DFS_ERR_BUSY"));
    try {
      this.#handlers.authorize(this.#peer!, h.type as RequestType);
    } catch (err) {
      // Nothing runs; DATA the peer sends for this id is dropped (no request holds it).
      return this.#fs.sendError(id, err);
    }
    const req: Incoming = {};
    this.#requests.set(id, req);
    this.#run(h.type, id, body, req).then(
      () => this.#done(id, req),
      (err: unknown) => {
        const e = toDfsError(err);
        if (this.#requests.get(id) === req) this.#fs.sendError(id, e);
        this.#done(id, req);
        if (e.code === "DFS_ERR_PROTOCOL") this.#fs.fail(e);
        else if (e.code === "DFS_ERR_INTERNAL") this.#log.error({ err: e.cause ?? e }, "request failed");
      },
    );
  }

  #done(id: number, req: Incoming): void {
    if (this.#requests.get(id) === req) this.#requests.delete(id);
    this.#fs.resume(req);
    req.body?.fail();
  }

  /** Decodes, calls the handler, and sends the result. Throws what should become an ERROR frame. */
  async #run(type: number, id: number, body: Buffer, req: Incoming): Promise<void> {
    const h = this.#handlers;
    switch (type) {
      case FrameType.PING:
        return this.#reply(id, req, NodeIdMsg.encode(h.nodeId));
      case FrameType.PUT: {
        const put = PutReq.decode(body);
        req.remaining = put.size;
        req.body = new IncomingBody(put.size, () => this.#fs.resume(req));
        req.abort = new AbortController();
        return this.#reply(id, req, PutRes.encode(await h.put(put, req.body, req.abort.signal)));
      }
      case FrameType.GET: {
        const get = GetReq.decode(body);
        const got = await h.get(get);
        const wholeChunk = get.kind === "chunk" && get.offset === 0 && got.length === got.size;
        return this.#stream(id, req, GetRes.encode({ size: got.size, length: got.length }), got, wholeChunk);
      }
      case FrameType.HAS: {
        const has = HasReq.decode(body);
        return this.#reply(id, req, HasRes.encode(await h.has(has.kind, has.ids)));
      }
      case FrameType.STAT:
        return this.#reply(id, req, StatRes.encode(await h.stat()));
      case FrameType.LIST:
        return this.#reply(id, req, ListRes.encode(await h.list(ListReq.decode(body))));
      case FrameType.TABLE_WRITE:
        return this.#reply(id, req, TableWriteRes.encode(await h.tableWrite(TableWriteReq.decode(body))));
      case FrameType.TABLE_READ:
        return this.#reply(id, req, TableReadRes.encode(await h.tableRead(TableReadReq.decode(body))));
      case FrameType.SYNC:
        return this.#reply(id, req, SyncRes.encode(await h.sync(SyncReq.decode(body))));
    }
  }

  #reply(id: number, req: Incoming, payload: Buffer): void {
    if (this.#requests.get(id) === req) this.#fs.send(FrameType.RESULT, id, payload);
  }

  /** Sends RESULT, then the object in DATA frames, each read into a pooled buffer. */
  async #stream(
    id: number,
    req: Incoming,
    head: Buffer,
    got: { length: number; source: ObjectSource },
    wholeChunk: boolean,
  ): Promise<void> {
    const live = () => this.#requests.get(id) === req;
    try {
      this.#reply(id, req, head);
      let left = got.length;
      while (left > 0 && live()) {
        const buf = getBuffers.take();
        let n: number;
        try {
          n = await got.source.read(buf.subarray(0, Math.min(left, buf.length)));
        } catch (err) {
          getBuffers.give(buf);
          throw err;
        }
        if (n === 0 || !live()) {
          getBuffers.give(buf);
          if (n === 0) throw new DfsError("DFS_ERR_CORRUPT", "the object ended before its length");
          return;
        }
        left -= n;
        const more = this.#fs.sendData(
          id,
          buf.subarray(0, n),
          left === 0,
          () => getBuffers.give(buf),
          wholeChunk,
        );
        if (!more) await this.#fs.drained();
      }
      if (got.length === 0 && live()) this.#fs.sendData(id, EMPTY, true, undefined, wholeChunk);
    } catch (err) {
      // Headers are out: an ERROR frame tells the client the stream is incomplete.
      if (!isDfsError(err, "DFS_ERR_CANCELLED")) throw err;
    } finally {
      await got.source.close();
    }
  }
}
