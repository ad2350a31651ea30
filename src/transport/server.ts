import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import type { HostPort } from "../config/index.ts";
import type { RequestHandlers } from "./handlers.ts";
import type { LinkTrust } from "./link.ts";
import { ServerSession } from "./session.ts";
import { Strangers } from "./strangers.ts";
import { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";

export interface ProtocolServerOptions {
  trust: LinkTrust;
  handlers: RequestHandlers;
  logger: Logger;
  timeouts?: Partial<Timeouts>;
  maxConnections?: number;
  /** Connections not yet authenticated from one source (an IPv4 address, an IPv6 /64). */
  maxStrangersPerSource?: number;
  /** Connections not yet authenticated, from everywhere. */
  maxStrangers?: number;
}

/**
 * Listens for node-protocol connections and runs a session per socket. Strangers (connections
 * still in the handshake) are capped per source and in all; a new one over a cap evicts the
 * oldest stranger of that source (or of all) instead of being refused, so a slow attacker holding
 * sockets open cannot keep a real peer, whose handshake takes milliseconds, from getting in.
 */
export class ProtocolServer {
  readonly #server: Server;
  readonly #sessions = new Set<ServerSession>();
  readonly #options: ProtocolServerOptions;
  readonly #timeouts: Timeouts;
  readonly #strangers: Strangers<ServerSession>;

  constructor(options: ProtocolServerOptions) {
    this.#options = options;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#strangers = new Strangers(options.maxStrangersPerSource ?? 32, options.maxStrangers ?? 1024);
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server.maxConnections = options.maxConnections ?? 4096;
  }

  async listen(addr: HostPort): Promise<HostPort> {
    this.#server.listen(addr.port, addr.host);
    await once(this.#server, "listening");
    const bound = this.#server.address();
    if (bound === null || typeof bound === "string") throw new Error("server has no TCP address");
    return { host: bound.address, port: bound.port };
  }

  get connections(): number {
    return this.#sessions.size;
  }

  /** Connections still in the handshake (for tests and metrics). */
  get strangers(): number {
    return this.#strangers.size;
  }

  #accept(socket: Socket): void {
    const source = socket.remoteAddress ?? "unknown";
    const session: ServerSession = new ServerSession(socket, {
      trust: this.#options.trust,
      handlers: this.#options.handlers,
      log: this.#options.logger.child({ peer: `${source}:${socket.remotePort}` }),
      timeouts: this.#timeouts,
      onAuthenticated: () => this.#strangers.remove(session),
    });
    this.#sessions.add(session);
    for (const evicted of this.#strangers.add(source, session)) evicted.destroy();
    void session.closed.then(() => {
      this.#sessions.delete(session);
      this.#strangers.remove(session);
    });
  }

  /** Stops accepting, lets in-flight requests finish for up to graceMs, then drops the rest. */
  async close(graceMs = 5000): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while ([...this.#sessions].some((s) => s.inFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.#sessions) s.destroy();
    await stopped;
  }
}
