import { DfsError } from "../errors.ts";
import { ClientConnection } from "./connection.ts";
import type { LinkTrust } from "./link.ts";
import type { Timeouts } from "./timeouts.ts";

/**
 * The node id expected at an address (from the registry): the node there must prove exactly that
 * id. Undefined: any node of the cluster; a function that throws refuses to dial.
 */
export type PeerIds = (addr: string) => string | undefined;

/** A connection shared by small requests still takes more only while it has fewer in flight. */
const MAX_SHARED_IN_FLIGHT = 64;

/**
 * Authenticated connections per peer. A request takes an idle connection, else opens another
 * (up to maxPerPeer, so one slow stream does not hold up the others), else shares the least busy.
 * Connections idle for longer than idleMs are closed.
 */
export class ConnectionPool {
  readonly #trust: LinkTrust;
  readonly #peerId: PeerIds;
  readonly #timeouts: Timeouts;
  readonly #maxPerPeer: number;
  readonly #peers = new Map<string, ClientConnection[]>();
  readonly #connecting = new Map<string, Promise<ClientConnection>>();
  readonly #lastUsed = new WeakMap<ClientConnection, number>();
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(trust: LinkTrust, peerId: PeerIds, timeouts: Timeouts, maxPerPeer = 4) {
    this.#trust = trust;
    this.#peerId = peerId;
    this.#timeouts = timeouts;
    this.#maxPerPeer = maxPerPeer;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1000, timeouts.idleMs / 2));
    this.#sweeper.unref();
  }

  /**
   * `small`: the request is small both ways (RequestOptions.small), so it may join a connection of
   * small requests whose frames wait for this turn's flush: no extra syscall on either side. Bulk
   * requests keep a connection to themselves while one is idle, so one paused stream does not hold
   * up another.
   */
  async acquire(addr: string, small = false): Promise<ClientConnection> {
    if (this.#closed) throw new DfsError("DFS_ERR_CLOSED", "the node client is closed");
    const open = (this.#peers.get(addr) ?? []).filter((c) => !c.closed);
    this.#peers.set(addr, open);
    if (small) {
      const joinable = open.find((c) => c.joinable && c.inFlight < MAX_SHARED_IN_FLIGHT);
      if (joinable) return this.#use(joinable);
    }
    const idle = open.find((c) => c.inFlight === 0);
    if (idle) return this.#use(idle);
    if (open.length < this.#maxPerPeer) {
      try {
        return this.#use(await this.#open(addr));
      } catch (err) {
        if (open.length === 0) throw err;
      }
    }
    const least = open.filter((c) => !c.closed).sort((a, b) => a.inFlight - b.inFlight)[0];
    if (!least) return this.#use(await this.#open(addr));
    return this.#use(least);
  }

  /** Number of open connections to a peer (for tests and metrics). */
  connections(addr: string): number {
    return (this.#peers.get(addr) ?? []).filter((c) => !c.closed).length;
  }

  #use(conn: ClientConnection): ClientConnection {
    this.#lastUsed.set(conn, Date.now());
    return conn;
  }

  /** One connect at a time per peer: a burst of requests does not open a burst of sockets. */
  #open(addr: string): Promise<ClientConnection> {
    const inProgress = this.#connecting.get(addr);
    if (inProgress) return inProgress;
    const attempt = Promise.resolve()
      .then(() => ClientConnection.connect(addr, this.#trust, this.#peerId(addr), this.#timeouts))
      .then((conn) => {
        if (this.#closed) {
          conn.destroy();
          throw new DfsError("DFS_ERR_CLOSED", "the node client is closed");
        }
        const list = this.#peers.get(addr) ?? [];
        list.push(conn);
        this.#peers.set(addr, list);
        return conn;
      })
      .finally(() => this.#connecting.delete(addr));
    this.#connecting.set(addr, attempt);
    return attempt;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [addr, list] of this.#peers) {
      const keep = list.filter((c) => {
        const stale = c.inFlight === 0 && now - (this.#lastUsed.get(c) ?? 0) > this.#timeouts.idleMs;
        if (stale || c.closed) c.close();
        return !(stale || c.closed);
      });
      if (keep.length === 0) this.#peers.delete(addr);
      else this.#peers.set(addr, keep);
    }
  }

  /** Waits up to graceMs for in-flight requests, then closes every connection. Idempotent. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.allSettled(this.#connecting.values());
    const all = [...this.#peers.values()].flat();
    const deadline = Date.now() + graceMs;
    while (all.some((c) => !c.closed && c.inFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of all) c.close();
    this.#peers.clear();
  }
}
