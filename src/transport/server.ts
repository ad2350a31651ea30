import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import type { HostPort } from "../config/index.ts";
import type { RequestHandlers } from "./handlers.ts";
import { ServerSession } from "./session.ts";
import { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";

export interface ProtocolServerOptions {
  secret: Buffer;
  handlers: RequestHandlers;
  logger: Logger;
  timeouts?: Partial<Timeouts>;
  maxConnections?: number;
}

/** Listens for node-protocol connections and runs a session per socket. */
export class ProtocolServer {
  readonly #server: Server;
  readonly #sessions = new Set<ServerSession>();
  readonly #options: ProtocolServerOptions;
  readonly #timeouts: Timeouts;

  constructor(options: ProtocolServerOptions) {
    this.#options = options;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
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

  #accept(socket: Socket): void {
    const session = new ServerSession(
      socket,
      this.#options.secret,
      this.#options.handlers,
      this.#options.logger.child({ peer: `${socket.remoteAddress}:${socket.remotePort}` }),
      this.#timeouts,
    );
    this.#sessions.add(session);
    void session.closed.then(() => this.#sessions.delete(session));
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
