import type { AccessKeyDirectory } from "../access/index.ts";
import type { GatewayConfig } from "../config/index.ts";
import type { Identity } from "../credentials/index.ts";
import type { ChunkCipher } from "../crypto/index.ts";
import type { Logger } from "../logger.ts";
import type { Names } from "../names/index.ts";
import type { MembershipView } from "../registry/index.ts";
import type { TableClient } from "../tables/index.ts";
import type { BufferPool, NodeApi } from "../transport/index.ts";
import type { PlacementCache } from "./cluster.ts";
import type { GatewayHedges } from "./hedge.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** What the gateway reads of the membership view: a real MembershipView, or a fixed one in tests. */
export type GatewayView = Pick<MembershipView, "live" | "all" | "stale" | "ageMs" | "version"> &
  Partial<Pick<MembershipView, "rejected">>;

export interface GatewayDeps {
  nodes: NodeApi;
  view: GatewayView;
  logger: Logger;
  /** Signs every manifest and tombstone written (signing.ts); absent without a cluster authority. */
  identity?: Identity | undefined;
  /** The naming service's clock (ms): key times, upload ages. Default Date.now; tests control it. */
  now?: (() => number) | undefined;
}

/** Everything a route needs, built once per app. */
export interface GatewayContext {
  readonly config: GatewayConfig["gateway"];
  readonly nodes: NodeApi;
  readonly view: GatewayView;
  readonly cipher: ChunkCipher;
  /** The gateway's identity: manifests and tombstones carry its signature. */
  readonly identity: Identity | undefined;
  readonly placement: PlacementCache;
  /**
   * Table records over their owners (quorum reads and writes, read-repair), stamped with this
   * gateway's credential id: buckets, keys and file holders.
   */
  readonly tables: TableClient;
  /** Access keys kept in the cluster (cached briefly in this gateway): the auth hook and /v1/keys. */
  readonly access: AccessKeyDirectory;
  /** The naming service (buckets and keys) the /v1 bucket routes and the S3 listener share. */
  readonly names: Names;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /**
   * Reused memory (new memory is what costs most here: bench/free-now.ts, bench/malloc-keep.ts): `plain` holds
   * chunkBytes, an upload's chunker buffer; `sealed` chunkBytes + CHUNK_OVERHEAD, a sealed chunk
   * in flight. A buffer is given back only once nothing refers to it.
   */
  readonly buffers: { readonly plain: BufferPool; readonly sealed: BufferPool };
  /** When a read also asks the next node: learnt from the answers of each kind (hedge.ts). */
  readonly hedges: GatewayHedges;
}
