import { join } from "node:path";
import type { NodeConfig } from "../config/index.ts";
import { formatHostPort, type HostPort } from "../config/index.ts";
import { ObjectSignatures, resolveTrust } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import { HybridClock } from "../formats/index.ts";
import type { Logger } from "../logger.ts";
import { LiveOrder, TableClient } from "../tables/index.ts";
import {
  type LinkTrust,
  NodeClient,
  type NodeDirectory,
  ProtocolServer,
  peerIdsFrom,
  type Timeouts,
} from "../transport/index.ts";
import { ForwardGuard, type ForwardView } from "./forward.ts";
import { NodeHandlers } from "./handlers.ts";
import { ManifestGate } from "./manifest-gate.ts";
import { TokenBucket } from "./rate-limit.ts";
import { ReplacedManifests } from "./replaced-manifests.ts";
import { AliveMark, ObjectStore } from "./store/index.ts";
import { ObjectDigests } from "./sync/object-digests.ts";
import { trackTables } from "./sync/table-digests.ts";
import { TableStore } from "./tables/index.ts";

/** The node's tables' file in its data directory (LMDB; `tables.mdb-lock` beside it). */
export const TABLES_FILE = "tables.mdb";

export const NODE_VERSION = "0.1.0";
/**
 * What this node serves beyond every version (its registry record says so; types.ts, `features`):
 * "sync" (SYNC digests), and "refs" once every manifest it holds has its chunk references
 * (heal/refs-upgrade.ts): until every live node says "refs", no node collects chunks (heal/gc.ts).
 */
export function nodeFeatures(refsBuilt: boolean): string[] {
  return refsBuilt ? ["sync", "refs"] : ["sync"];
}

/** A running storage node: its store, its protocol server, and a client for its peers. */
export class StorageNode {
  readonly store: ObjectStore;
  /** Table records this node holds (src/node/tables). */
  readonly tables: TableStore;
  /** Stamps this node's own table writes; observes every version its tables apply. */
  readonly clock: HybridClock;
  /**
   * This node's quorum client for table records (its own writes, such as chunk references), over
   * the live members of its registry view; DFS_ERR_UNAVAILABLE until the node has joined one.
   */
  readonly tableClient: TableClient;
  /** When this node last took part in its cluster, kept in its data directory. */
  readonly alive: AliveMark;
  readonly address: HostPort;
  /** The address peers and gateways dial (advertise, or the bound listen address). */
  readonly advertise: string;
  readonly startedAt = Date.now();
  /** Bytes per second that repair, scrub and pack compaction may move between them. */
  readonly background: TokenBucket;
  readonly #server: ProtocolServer;
  readonly #peers: NodeClient;
  readonly #forwards: ForwardGuard;
  readonly #directory: { current: NodeDirectory | undefined };
  readonly #members: { current: ForwardView | undefined };
  /** This node's credential and the anchor it checks others against (link, registry records). */
  readonly trust: LinkTrust;
  /** Checks gateways' signatures on manifest objects (the PUT gate, repair's ranking). */
  readonly signatures: ObjectSignatures;
  /** Digests of what the store holds, kept up to date by it: what SYNC answers and repair compares. */
  readonly digests: ObjectDigests;

  private constructor(
    store: ObjectStore,
    tables: TableStore,
    clock: HybridClock,
    server: ProtocolServer,
    peers: NodeClient,
    address: HostPort,
    advertise: string,
    background: TokenBucket,
    forwards: ForwardGuard,
    directory: { current: NodeDirectory | undefined },
    trust: LinkTrust,
    signatures: ObjectSignatures,
    tableClient: TableClient,
    members: { current: ForwardView | undefined },
    digests: ObjectDigests,
  ) {
    this.digests = digests;
    this.trust = trust;
    this.tableClient = tableClient;
    this.#members = members;
    this.signatures = signatures;
    this.#forwards = forwards;
    this.#directory = directory;
    this.store = store;
    this.tables = tables;
    this.clock = clock;
    this.alive = new AliveMark(store.dataDir);
    this.background = background;
    this.#server = server;
    this.#peers = peers;
    this.address = address;
    this.advertise = advertise;
  }

  /**
   * Opens the store, takes this node's identity (its id is the data folder's node id) and listens.
   * Without trust configured it refuses to start: the node link has no other authentication.
   */
  static async start(config: NodeConfig, logger: Logger): Promise<StorageNode> {
    const n = config.node;
    const sources = config.trust;
    if (sources === undefined) {
      throw new DfsError(
        "DFS_ERR_CONFIG",
        "cluster.identityFile and cluster.authorityPublicKey are required (a node credential from `dfs credential issue`; for development, cluster.authorityKey)",
      );
    }
    const timeouts: Partial<Timeouts> = { frameMs: n.frameTimeoutMs, handshakeMs: n.handshakeTimeoutMs };
    const background = new TokenBucket(n.repairBytesPerSec);
    // Filled as the store opens (its recovery scan and walk report every object) and kept up to date after.
    const digests = new ObjectDigests();
    const opening = performance.now();
    const store = await ObjectStore.open({
      dataDir: n.dataDir,
      fsync: n.fsync,
      reserveBytes: n.reserveBytes,
      capacityBytes: n.capacityBytes,
      maxObjectBytes: n.maxObjectBytes,
      cacheBytes: n.cacheBytes,
      packs: n.packs,
      background,
      warn: (message, details) => logger.warn({ component: "store", ...details }, message),
      changes: digests,
    });
    logger.info(
      {
        chunks: digests.chunks.size,
        manifests: digests.manifests.size,
        ms: Math.round(performance.now() - opening),
      },
      "store open, digests built",
    );
    let trust: LinkTrust;
    let tables: TableStore;
    const clock = new HybridClock();
    try {
      trust = { ...resolveTrust(sources, "node", store.nodeId), secret: config.secret };
      // After the store: the store took the data directory's lock, so one process opens the tables.
      tables = await TableStore.open({
        path: join(n.dataDir, TABLES_FILE),
        clock,
        warn: (message, details) => logger.warn({ component: "tables", ...details }, message),
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    // The tables' digests: a walk of every record once, then the tables' change hook keeps them.
    const walking = performance.now();
    trackTables(tables, digests.tables);
    logger.info(
      { records: digests.tables.size, ms: Math.round(performance.now() - walking) },
      "tables open, digests built",
    );
    // Filled in once the node has joined the registry. A node dials only members of its view
    // (ForwardGuard, repair, probes), and each must prove the id registered at its address.
    const directory: { current: NodeDirectory | undefined } = { current: undefined };
    const peers = new NodeClient({
      trust,
      peerIds: peerIdsFrom(() => directory.current, true),
      timeouts,
    });
    // Handlers need the advertised address before the port is known when listening on port 0.
    let selfAddr = "";
    // Filled in with the directory; orders as long as the gateway's (2R + 1).
    const members: { current: ForwardView | undefined } = { current: undefined };
    const liveOrder = new LiveOrder(
      {
        get version() {
          return members.current?.version ?? -1;
        },
        live: () => members.current?.live() ?? [],
      },
      2 * n.replicas + 1,
    );
    const tableClient = new TableClient({
      nodes: peers,
      order: (placementId) => {
        if (members.current === undefined)
          throw new DfsError("DFS_ERR_UNAVAILABLE", "this node has not joined a registry: no owners known");
        return liveOrder.order(placementId);
      },
      replicas: n.replicas,
      writeQuorum: n.writeQuorum,
      clock,
      writer: store.nodeId,
      onBackgroundError: (err, addr) =>
        logger.warn(
          { component: "tables", addr, code: err.code, err: err.message },
          "tables: a background write failed",
        ),
    });
    const forwards = new ForwardGuard(store.nodeId, () => selfAddr);
    const signatures = new ObjectSignatures(trust.anchor);
    const gate = new ManifestGate(store, signatures);
    const handlers = new NodeHandlers(
      store,
      tables,
      peers,
      () => selfAddr,
      n.zone,
      forwards,
      n.putStallMs,
      gate,
      new ReplacedManifests(store, tableClient, logger.child({ component: "refs" })),
      digests,
    );
    const server = new ProtocolServer({
      trust,
      handlers,
      logger: logger.child({ component: "protocol" }),
      timeouts,
    });
    const address = await server.listen(n.listenAddr);
    const advertised = n.advertise ? n.advertiseAddr : { host: n.advertiseAddr.host, port: address.port };
    selfAddr = formatHostPort(advertised);
    return new StorageNode(
      store,
      tables,
      clock,
      server,
      peers,
      address,
      selfAddr,
      background,
      forwards,
      directory,
      trust,
      signatures,
      tableClient,
      members,
      digests,
    );
  }

  get nodeId(): string {
    return this.store.nodeId;
  }

  /**
   * From now on: forward lists of chain PUTs are accepted, naming live members of this view only;
   * and every peer this node dials must prove the node id the view registers at its address.
   */
  useMembership(view: ForwardView & NodeDirectory): void {
    this.#forwards.use(view);
    this.#directory.current = view;
    this.#members.current = view;
  }

  get peers(): NodeClient {
    return this.#peers;
  }

  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes the tables and the store. */
  async close(graceMs = 5000): Promise<void> {
    await this.#server.close(graceMs);
    await this.#peers.close();
    await this.tables.close();
    await this.store.close();
  }
}
