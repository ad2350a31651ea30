import type { NodeConfig } from "../config/index.ts";
import { formatHostPort, type HostPort } from "../config/index.ts";
import { ObjectSignatures, trustAnchorOf } from "../credentials/index.ts";
import type { Logger } from "../logger.ts";
import { NodeClient, ProtocolServer, type Timeouts } from "../transport/index.ts";
import { ForwardGuard, type ForwardView } from "./forward.ts";
import { NodeHandlers } from "./handlers.ts";
import { ManifestGate } from "./manifest-gate.ts";
import { TokenBucket } from "./rate-limit.ts";
import { ChunkStore } from "./store/index.ts";

export const NODE_VERSION = "0.1.0";

/** The checker of gateways' signatures on manifest objects; undefined without a cluster authority. */
export function objectSignatures(config: NodeConfig): ObjectSignatures | undefined {
  const anchor = config.trust && trustAnchorOf(config.trust);
  return anchor && new ObjectSignatures(anchor);
}

/** A running storage node: its store, its protocol server, and a client for its peers. */
export class StorageNode {
  readonly store: ChunkStore;
  readonly address: HostPort;
  /** The address peers and gateways dial (advertise, or the bound listen address). */
  readonly advertise: string;
  readonly startedAt = Date.now();
  /** Bytes per second that repair, scrub and pack compaction may move between them. */
  readonly background: TokenBucket;
  readonly #server: ProtocolServer;
  readonly #peers: NodeClient;
  readonly #forwards: ForwardGuard;

  private constructor(
    store: ChunkStore,
    server: ProtocolServer,
    peers: NodeClient,
    address: HostPort,
    advertise: string,
    background: TokenBucket,
    forwards: ForwardGuard,
  ) {
    this.#forwards = forwards;
    this.store = store;
    this.background = background;
    this.#server = server;
    this.#peers = peers;
    this.address = address;
    this.advertise = advertise;
  }

  static async start(config: NodeConfig, logger: Logger): Promise<StorageNode> {
    const n = config.node;
    const timeouts: Partial<Timeouts> = { frameMs: n.frameTimeoutMs };
    const background = new TokenBucket(n.repairBytesPerSec);
    const store = await ChunkStore.open({
      dataDir: n.dataDir,
      fsync: n.fsync,
      reserveBytes: n.reserveBytes,
      capacityBytes: n.capacityBytes,
      maxObjectBytes: n.maxObjectBytes,
      cacheBytes: n.cacheBytes,
      packs: n.packs,
      background,
      warn: (message, details) => logger.warn({ component: "store", ...details }, message),
    });
    const peers = new NodeClient({ secret: config.secret, timeouts });
    // Handlers need the advertised address before the port is known when listening on port 0.
    let selfAddr = "";
    const forwards = new ForwardGuard(store.nodeId, () => selfAddr);
    const signatures = objectSignatures(config);
    const gate = signatures && new ManifestGate(store, signatures);
    const handlers = new NodeHandlers(store, peers, () => selfAddr, n.zone, forwards, n.putStallMs, gate);
    const server = new ProtocolServer({
      secret: config.secret,
      handlers,
      logger: logger.child({ component: "protocol" }),
      timeouts,
    });
    const address = await server.listen(n.listenAddr);
    const advertised = n.advertise ? n.advertiseAddr : { host: n.advertiseAddr.host, port: address.port };
    selfAddr = formatHostPort(advertised);
    return new StorageNode(store, server, peers, address, selfAddr, background, forwards);
  }

  get nodeId(): string {
    return this.store.nodeId;
  }

  /** Forward lists of chain PUTs are accepted from now on, naming live members of this view only. */
  useMembership(view: ForwardView): void {
    this.#forwards.use(view);
  }

  get peers(): NodeClient {
    return this.#peers;
  }

  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes the store. */
  async close(graceMs = 5000): Promise<void> {
    await this.#server.close(graceMs);
    await this.#peers.close();
    await this.store.close();
  }
}
