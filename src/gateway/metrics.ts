import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ErrorCode } from "../errors.ts";
import type { HealCounters, StoreCounters } from "../formats/index.ts";
import type { NodeInfo } from "../registry/index.ts";
import type { GatewayHedges } from "./hedge.ts";

export type ChunkOp = "put" | "get" | "has" | "delete";

/**
 * Prometheus metrics of one gateway app. Each app owns its Registry, so two apps in one process
 * (tests) do not share or clash.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"method" | "route" | "status">;
  readonly latency: Histogram<"method" | "route">;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly chunkOps: Counter<"op" | "kind" | "result">;
  readonly errors: Counter<"code">;
  /** Chunk copies a download stored again on an owner that missed them or held a bad one. */
  readonly readRepairs: Counter<"result">;
  /** Releases of a file's holder: "kept" (another holds it), "deleted", or "revived" (held again meanwhile). */
  readonly fileReleases: Counter<"result">;
  /** Reads that also asked the next node because the ones asked were slow to answer. */
  readonly readHedges: Counter<"kind">;
  /** Clients cut or refused by the listener's guards: a stalled body, a stopped reader, too many. */
  readonly guarded: Counter<"reason">;
  /** Connections and transfers in flight, read at every scrape (set by the listener). */
  load: { connections: () => number; transfers: () => number } = {
    connections: () => 0,
    transfers: () => 0,
  };

  /**
   * `liveNodes` is read at every scrape: the live view, with what each node published; so are the
   * hedge delays.
   */
  constructor(liveNodes: () => readonly NodeInfo[], hedges: GatewayHedges, rejectedRecords?: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "dfs_gateway_" });
    this.requests = new Counter({
      name: "dfs_gateway_http_requests_total",
      help: "HTTP requests answered, by route and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.latency = new Histogram({
      name: "dfs_gateway_http_request_duration_seconds",
      help: "Time from request to the end of the response",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.bytesIn = new Counter({
      name: "dfs_gateway_upload_bytes_total",
      help: "File bytes received from clients",
      registers,
    });
    this.bytesOut = new Counter({
      name: "dfs_gateway_download_bytes_total",
      help: "File bytes sent to clients",
      registers,
    });
    this.chunkOps = new Counter({
      name: "dfs_gateway_node_ops_total",
      help: "Requests to storage nodes, by operation, object kind and result",
      labelNames: ["op", "kind", "result"],
      registers,
    });
    this.errors = new Counter({
      name: "dfs_gateway_errors_total",
      help: "Errors answered to clients, by code",
      labelNames: ["code"],
      registers,
    });
    this.readRepairs = new Counter({
      name: "dfs_gateway_read_repairs_total",
      help: "Chunk copies stored again on owners a download found missing or bad, by result",
      labelNames: ["result"],
      registers,
    });
    this.fileReleases = new Counter({
      name: "dfs_gateway_file_releases_total",
      help: "Releases of a file's holder, by result: kept, deleted, or revived (a holder appeared as it was deleted)",
      labelNames: ["result"],
      registers,
    });
    this.readHedges = new Counter({
      name: "dfs_gateway_read_hedges_total",
      help: "Extra node requests a read made because the nodes asked were slow to answer, by kind (small: manifests, existence checks)",
      labelNames: ["kind"],
      registers,
    });
    new Gauge({
      name: "dfs_gateway_read_hedge_delay_seconds",
      help: "How long a read now waits on a node before it also asks the next one, by kind",
      labelNames: ["kind"],
      registers,
      collect() {
        for (const kind of ["small", "chunk"] as const) this.set({ kind }, hedges[kind].ms / 1000);
      },
    });
    new Gauge({
      name: "dfs_gateway_live_nodes",
      help: "Storage nodes in the live view",
      registers,
      collect() {
        this.set(liveNodes().length);
      },
    });
    this.guarded = new Counter({
      name: "dfs_gateway_guarded_total",
      help: "Requests cut or refused to protect the gateway, by reason (body_stalled, reader_stopped, connections, transfers)",
      labelNames: ["reason"],
      registers,
    });
    const load = () => this.load;
    new Gauge({
      name: "dfs_gateway_in_flight",
      help: "Open client connections and uploads+downloads in flight, by kind",
      labelNames: ["kind"],
      registers,
      collect() {
        this.set({ kind: "connections" }, load().connections());
        this.set({ kind: "transfers" }, load().transfers());
      },
    });
    if (rejectedRecords) {
      new Counter({
        name: "dfs_gateway_registry_rejected_records_total",
        help: "Node records this gateway's view read and ignored: unsigned, badly signed, out of bounds or past maxMembers",
        registers,
        collect() {
          this.reset();
          this.inc(rejectedRecords());
        },
      });
    }
    nodeHealMetrics(liveNodes, registers);
  }

  nodeOp(op: ChunkOp, kind: "chunk" | "manifest", ok: boolean): void {
    this.chunkOps.inc({ op, kind, result: ok ? "ok" : "error" });
  }

  error(code: ErrorCode): void {
    this.errors.inc({ code });
  }
}

/** A per-node series: metric name, the published field, help, counter (a total) or gauge (now). */
type NodeSeries<R> = readonly [name: string, field: keyof R, help: string, type: "counter" | "gauge"];

const HEAL_SERIES: readonly NodeSeries<HealCounters>[] = [
  [
    "dfs_node_under_replicated",
    "underReplicated",
    "Objects a node acts for that fewer than R owners hold, as of its last repair round",
    "gauge",
  ],
  ["dfs_node_repairs_total", "repaired", "Copies a node's repair stored on other nodes", "counter"],
  [
    "dfs_node_repaired_bytes_total",
    "repairedBytes",
    "Bytes a node's repair stored on other nodes",
    "counter",
  ],
  [
    "dfs_node_dropped_total",
    "dropped",
    "Copies a node dropped once their owners confirmed theirs",
    "counter",
  ],
  ["dfs_node_scrubbed_total", "scrubbed", "Objects a node's scrub verified against their id", "counter"],
  ["dfs_node_quarantined_total", "quarantined", "Corrupt copies a node moved to quarantine", "counter"],
  ["dfs_node_restored_total", "restored", "Corrupt copies a node replaced from a healthy replica", "counter"],
  [
    "dfs_node_collected_total",
    "collected",
    "Unreferenced chunks a node's garbage collection deleted",
    "counter",
  ],
  ["dfs_node_collected_bytes_total", "collectedBytes", "Bytes a node's garbage collection freed", "counter"],
  [
    "dfs_node_expired_tombstones_total",
    "expiredTombstones",
    "Tombstones of deleted files a node dropped after its tombstone grace",
    "counter",
  ],
  [
    "dfs_node_sync_differences_total",
    "syncDifferences",
    "Objects a node found differing from a peer owning them too, comparing digests",
    "counter",
  ],
  [
    "dfs_node_sync_repaired_total",
    "syncRepaired",
    "Copies a node's repair stored for objects its digest comparisons found differing",
    "counter",
  ],
  ["dfs_node_sync_requests_total", "syncRequests", "SYNC requests a node sent its peers", "counter"],
  [
    "dfs_node_sync_bytes_total",
    "syncBytes",
    "Bytes a node's SYNC requests and their answers took on the node link",
    "counter",
  ],
];

const HEAL_ROUNDS = {
  repair: "repairRounds",
  scrub: "scrubRounds",
  gc: "gcRounds",
  sync: "syncRounds",
} as const;

const STORE_SERIES: readonly NodeSeries<StoreCounters>[] = [
  ["dfs_node_cache_hits_total", "cacheHits", "Reads of small objects a node answered from memory", "counter"],
  [
    "dfs_node_cache_misses_total",
    "cacheMisses",
    "Reads of small objects that went to a node's disk",
    "counter",
  ],
  ["dfs_node_pack_files", "packFiles", "Pack files of small objects on a node", "gauge"],
  ["dfs_node_pack_bytes", "packBytes", "Bytes in a node's pack files", "gauge"],
  ["dfs_node_pack_live_bytes", "packLiveBytes", "Bytes of live records in a node's pack files", "gauge"],
  [
    "dfs_node_pack_batches_total",
    "packBatches",
    "Batches a node appended to its packs, one fdatasync each",
    "counter",
  ],
  ["dfs_node_pack_records_total", "packRecords", "Records a node appended to its packs", "counter"],
  [
    "dfs_node_pack_compactions_total",
    "packCompactions",
    "Sealed packs a node rewrote and deleted",
    "counter",
  ],
];

/**
 * Each live node's self-healing counters and store, as it last published them in the registry
 * (with its heartbeat; this gateway's view reads them at each resync). Built from the view at every
 * scrape, so a node that leaves the live view leaves the series. Totals count since that node's
 * process started: Prometheus counters, whose resets on a node restart `rate()` handles.
 */
function nodeHealMetrics(liveNodes: () => readonly NodeInfo[], registers: Registry[]): void {
  perNodeSeries(liveNodes, registers, (n) => n.heal, HEAL_SERIES);
  perNodeSeries(liveNodes, registers, (n) => n.store, STORE_SERIES);
  new Counter({
    name: "dfs_node_heal_rounds_total",
    help: "Self-healing rounds a node completed, by round (repair, scrub, gc, sync)",
    labelNames: ["node", "round"],
    registers,
    collect() {
      this.reset();
      for (const n of liveNodes()) {
        if (!n.heal) continue;
        for (const [round, field] of Object.entries(HEAL_ROUNDS))
          this.inc({ node: n.id, round }, n.heal[field]);
      }
    },
  });
}

/** One series per entry of `series`, labelled by node, for the live nodes that publish `record`. */
function perNodeSeries<R extends object>(
  liveNodes: () => readonly NodeInfo[],
  registers: Registry[],
  record: (n: NodeInfo) => R | undefined,
  series: readonly NodeSeries<R>[],
): void {
  for (const [name, field, help, type] of series) {
    const Metric = type === "counter" ? Counter : Gauge;
    new Metric({
      name,
      help,
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const n of liveNodes()) {
          const r = record(n);
          if (r !== undefined) this.inc({ node: n.id }, r[field] as number);
        }
      },
    });
  }
}
