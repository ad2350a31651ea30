import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { parseHostPort } from "../../src/config/index.ts";
import { type ErrorCode, isDfsError } from "../../src/errors.ts";
import {
  EMPTY,
  ErrorMsg,
  encodeHeader,
  FrameDecoder,
  FrameFlags,
  type FrameHeader,
  FrameType,
  type LinkKeys,
  TAG_BYTES,
} from "../../src/protocol/index.ts";
import type { LinkTrust } from "../../src/transport/index.ts";
import { ClientHandshake } from "../../src/transport/link.ts";
import { testTrust } from "./cluster.ts";

export interface SeenFrame {
  type: number;
  requestId: number;
  flags: number;
  body: Buffer;
}

/**
 * A hand-driven client of the node link over a raw socket, for hostile tests: it does the real
 * handshake, then lets a test send sealed frames (or raw bytes) and read what came back, opened.
 */
export class RawLink {
  readonly socket: Socket;
  readonly frames: SeenFrame[] = [];
  /** Every byte received, as it came (for replaying and reflecting them). */
  readonly received: Buffer[] = [];
  readonly closed: Promise<unknown>;
  keys: LinkKeys | undefined;
  /** Set when the peer's bytes stopped decoding (a broken tag, a bad frame). */
  decodeError: unknown;
  readonly #decoder: FrameDecoder;
  #pieces: Buffer[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = once(socket, "close");
    socket.on("error", () => {});
    this.#decoder = new FrameDecoder({
      onFrame: (h, body) => this.#frame(h, body),
      onData: (_h, piece) => this.#pieces.push(Buffer.from(piece)),
      onDataEnd: (h) => {
        this.frames.push({
          type: h.type,
          requestId: h.requestId,
          flags: h.flags,
          body: Buffer.concat(this.#pieces),
        });
        this.#pieces = [];
      },
    });
    socket.on("data", (chunk: Buffer) => {
      this.received.push(Buffer.from(chunk));
      if (this.decodeError !== undefined) return;
      try {
        this.#decoder.push(chunk);
      } catch (err) {
        this.decodeError = err;
      }
    });
  }

  #handshake: ((h: FrameHeader, body: Buffer) => void) | undefined;

  #frame(h: FrameHeader, body: Buffer): void {
    if (this.#handshake) return this.#handshake(h, body);
    this.frames.push({ type: h.type, requestId: h.requestId, flags: h.flags, body });
  }

  /** Connects without a handshake. */
  static async connect(addr: string, localAddress?: string): Promise<RawLink> {
    const { host, port } = parseHostPort(addr)!;
    const socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    await once(socket, "connect");
    return new RawLink(socket);
  }

  /** Connects and authenticates with `trust` (a test gateway by default). */
  static async open(addr: string, trust: LinkTrust = testTrust(), expectedNodeId?: string): Promise<RawLink> {
    const link = await RawLink.connect(addr);
    await link.authenticate(trust, expectedNodeId);
    return link;
  }

  /** The client side of the handshake; resolves once READY arrived and opened. */
  authenticate(trust: LinkTrust, expectedNodeId?: string): Promise<void> {
    const hs = new ClientHandshake(trust, expectedNodeId);
    return new Promise((resolve, reject) => {
      this.closed.then(() => reject(new Error(`closed during the handshake: ${this.errorCode()}`)));
      this.#handshake = (h, body) => {
        try {
          if (h.type === FrameType.ERROR) {
            this.#handshake = undefined;
            this.frames.push({ type: h.type, requestId: h.requestId, flags: h.flags, body });
            return reject(new Error(`handshake refused: ${ErrorMsg.decode(body).code}`));
          }
          if (h.type === FrameType.SERVER_HELLO) {
            this.socket.write(frame(FrameType.AUTH, 0, hs.onServerHello(body, "raw")));
            return;
          }
          hs.keys.receive.open(encodeHeader(FrameType.READY, 0, body.length, h.flags), body);
          this.keys = hs.keys;
          this.#decoder.open(hs.keys.receive);
          this.#handshake = undefined;
          resolve();
        } catch (err) {
          reject(err);
        }
      };
      this.socket.write(frame(FrameType.HELLO, 0, hs.helloBody()));
    });
  }

  /** One sealed control frame, as the transport would send it. */
  sealed(type: number, requestId: number, body: Buffer = EMPTY, flags = 0): Buffer {
    const header = encodeHeader(type as FrameType, requestId, body.length + TAG_BYTES, flags);
    return Buffer.concat([header, this.keys!.send.seal(header, body)]);
  }

  /** One sealed DATA frame, its bytes tagged (FrameFlags.BYTES_TAGGED), as for anything but a whole chunk. */
  sealedData(requestId: number, bytes: Buffer, end: boolean): Buffer {
    const flags = FrameFlags.BYTES_TAGGED | (end ? FrameFlags.END : 0);
    const header = encodeHeader(FrameType.DATA, requestId, bytes.length + TAG_BYTES, flags);
    return Buffer.concat([header, bytes, this.keys!.send.mac(header, bytes)]);
  }

  send(type: number, requestId: number, body: Buffer = EMPTY, flags = 0): void {
    this.socket.write(this.sealed(type, requestId, body, flags));
  }

  sendData(requestId: number, bytes: Buffer, end = true): void {
    this.socket.write(this.sealedData(requestId, bytes, end));
  }

  /** The code of the first ERROR received, if any. */
  errorCode(): ErrorCode | undefined {
    const e = this.frames.find((f) => f.type === FrameType.ERROR);
    return e ? ErrorMsg.decode(e.body).code : undefined;
  }

  /** Waits until a frame for `requestId` (or the close) arrives, at most `ms`. */
  async reply(requestId: number, ms = 10_000): Promise<SeenFrame | undefined> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const f = this.frames.find((x) => x.requestId === requestId);
      if (f) return f;
      if (this.socket.destroyed || this.socket.readableEnded) return undefined;
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  }

  /** Waits for the peer to close, at most `ms`; then closes our side. */
  async closedWithin(ms: number): Promise<boolean> {
    const timer = new Promise<false>((r) => setTimeout(() => r(false), ms).unref());
    const closed = await Promise.race([this.closed.then(() => true), timer]);
    this.socket.destroy();
    return closed;
  }
}

/** A plaintext frame (handshake messages). */
export function frame(type: number, requestId: number, body: Buffer = EMPTY): Buffer {
  return Buffer.concat([encodeHeader(type as FrameType, requestId, body.length), body]);
}

export function isAuthError(err: unknown): boolean {
  return isDfsError(err, "DFS_ERR_AUTH");
}

/**
 * A TCP relay in front of a node: passes bytes both ways, and lets a test inject its own bytes
 * towards the node once the handshake has gone through. It holds no key, like an on-path attacker
 * or a "node" registered at the relay's address.
 */
export class Relay {
  readonly server: Server;
  readonly #target: { host: string; port: number };
  /** Upstream sockets (relay -> node), newest last. */
  readonly upstreams: Socket[] = [];
  /** Bytes each connection's client sent towards the node, in connection order. */
  readonly upBytes: number[] = [];
  readonly #all = new Set<Socket>();
  addr = "";

  constructor(target: string) {
    this.#target = parseHostPort(target)!;
    this.server = createServer((down) => {
      const up = connect(this.#target);
      for (const s of [up, down]) {
        this.#all.add(s);
        s.on("error", () => {});
        s.on("close", () => this.#all.delete(s));
      }
      this.upstreams.push(up);
      const n = this.upBytes.push(0) - 1;
      down.on("data", (d: Buffer) => {
        this.upBytes[n]! += d.length;
      });
      down.pipe(up);
      up.pipe(down);
    });
  }

  async listen(): Promise<void> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    const a = this.server.address() as { port: number };
    this.addr = `127.0.0.1:${a.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#all) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
