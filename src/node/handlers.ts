import type { ApplyResult, ListPage, ObjectKind, ObjectSource, TableRecord } from "../formats/index.ts";
import {
  Limits,
  TABLE_READ_BUDGET,
  type TableReadRequest,
  type TableReadResult,
  tableEntryBytes,
} from "../protocol/index.ts";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";
import type { IncomingBody, NodeClient, Peer, RequestHandlers, RequestType } from "../transport/index.ts";
import type { ForwardGuard } from "./forward.ts";
import type { ManifestGate } from "./manifest-gate.ts";
import { chainPut } from "./put.ts";
import { authorize } from "./roles.ts";
import type { ObjectStore } from "./store/index.ts";
import type { TableStore } from "./tables/index.ts";

/** The storage node's answers to node-protocol requests: the store on disk plus forwarding. */
export class NodeHandlers implements RequestHandlers {
  readonly nodeId: string;
  readonly #store: ObjectStore;
  readonly #nodes: NodeClient;
  readonly #selfAddr: () => string;
  readonly #zone: string;
  readonly #forwards: ForwardGuard;
  readonly #putStallMs: number;

  readonly #gate: ManifestGate;
  readonly #tables: TableStore;

  /** `gate`: checks manifest objects that would replace a copy. */
  constructor(
    store: ObjectStore,
    tables: TableStore,
    nodes: NodeClient,
    selfAddr: () => string,
    zone: string,
    forwards: ForwardGuard,
    putStallMs: number,
    gate: ManifestGate,
  ) {
    this.nodeId = store.nodeId;
    this.#gate = gate;
    this.#store = store;
    this.#tables = tables;
    this.#nodes = nodes;
    this.#selfAddr = selfAddr;
    this.#zone = zone;
    this.#forwards = forwards;
    this.#putStallMs = putStallMs;
  }

  authorize(peer: Peer, type: RequestType): void {
    authorize(peer, type);
  }

  async put(request: PutRequest, body: IncomingBody, signal: AbortSignal): Promise<PutResult> {
    // Before anything is stored or dialled.
    this.#forwards.check(request.forward);
    const gated = request.kind === "manifest" ? await this.#gate.gate(request.id, body) : body;
    return chainPut(
      { store: this.#store, peers: this.#nodes, selfAddr: this.#selfAddr(), stallMs: this.#putStallMs },
      request,
      gated,
      signal,
    );
  }

  get(request: GetRequest): Promise<{ size: number; length: number; source: ObjectSource }> {
    return this.#store.openSource(request.kind, request.id, request);
  }

  async has(kind: ObjectKind, ids: string[]): Promise<boolean[]> {
    return Promise.all(ids.map((id) => this.#store.has(kind, id)));
  }

  async stat(): Promise<NodeStat> {
    const s = await this.#store.stats();
    return { nodeId: this.nodeId, zone: this.#zone, ...s };
  }

  list(request: ListRequest): Promise<ListPage> {
    return this.#store.list(request.kind, request.after, Math.min(request.limit, Limits.MAX_LIST_LIMIT));
  }

  tableWrite(records: TableRecord[]): Promise<ApplyResult[]> {
    return this.#tables.apply(records);
  }

  async tableRead(request: TableReadRequest): Promise<TableReadResult> {
    if (request.mode === "point") {
      const held = this.#tables.get(request.table, request.partitionKey, request.sortKey);
      return { entries: held ? [held] : [] };
    }
    // As many records as fit one answer's body; the cursor says where the next page starts.
    let used = 0;
    const page = this.#tables.range(request.table, request.partitionKey, {
      after: request.after,
      from: request.from,
      prefix: request.prefix,
      limit: request.limit,
      includeDeleted: request.includeDeleted,
      fits: (record) => {
        used += tableEntryBytes(record);
        return used <= TABLE_READ_BUDGET;
      },
    });
    return { entries: page.records, next: page.next };
  }
}
