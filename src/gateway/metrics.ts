import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ErrorCode } from "../errors.ts";

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

  constructor(liveNodes: () => number) {
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
    new Gauge({
      name: "dfs_gateway_live_nodes",
      help: "Storage nodes in the live view",
      registers,
      collect() {
        this.set(liveNodes());
      },
    });
  }

  nodeOp(op: ChunkOp, kind: "chunk" | "manifest", ok: boolean): void {
    this.chunkOps.inc({ op, kind, result: ok ? "ok" : "error" });
  }

  error(code: ErrorCode): void {
    this.errors.inc({ code });
  }
}
