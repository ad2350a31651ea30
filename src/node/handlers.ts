import { DfsError, toDfsError } from "../errors.ts";
import {
  type ApplyResult,
  CHUNK_REFS_TABLE,
  type ListPage,
  type ObjectKind,
  type ObjectSource,
  type TableRecord,
} from "../formats/index.ts";
import {
  Limits,
  TABLE_READ_BUDGET,
  type TableReadRequest,
  type TableReadResult,
  tableEntryBytes,
} from "../protocol/index.ts";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { SyncDigests, SyncElements, SyncRequest } from "../protocol/sync-messages.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";
import type { IncomingBody, NodeClient, Peer, RequestHandlers, RequestType } from "../transport/index.ts";
import type { ForwardGuard } from "./forward.ts";
import type { ManifestGate } from "./manifest-gate.ts";
import { chainPut } from "./put.ts";
import { PutRecords } from "./put-records.ts";
import type { ReplacedManifests } from "./replaced-manifests.ts";
import { authorize } from "./roles.ts";
import type { ObjectStore } from "./store/index.ts";
import { answerSync } from "./sync/answer.ts";
import type { ObjectDigests } from "./sync/object-digests.ts";
import type { TableStore } from "./tables/index.ts";

/**
 * DFS_ERR_BAD_REQUEST unless every record a PUT carries is a reference to the chunk it stores: a
 * PUT is no back door into other tables or other objects' references.
 */
function checkPutRecords(request: PutRequest): void {
  for (const r of request.records ?? []) {
    if (
      request.kind !== "chunk" ||
      r.table !== CHUNK_REFS_TABLE ||
      r.partitionKey.toString("hex") !== request.id
    ) {
      throw new DfsError(
        "DFS_ERR_BAD_REQUEST",
        `a PUT carries only ${CHUNK_REFS_TABLE} records of the chunk it stores`,
      );
    }
  }
}

/** A HAS of manifests with at most this many ids is answered at once (NodeHandlers.has). */
const HELD_NOW_MAX_IDS = 4;

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
  readonly #putRecords: PutRecords;
  readonly #replaced: ReplacedManifests;
  readonly #digests: ObjectDigests;

  /**
   * `gate`: checks manifest objects that would replace a copy; `replaced`: retracts the chunk
   * references of a manifest version a PUT replaces; `digests`: what SYNC answers from.
   */
  constructor(
    store: ObjectStore,
    tables: TableStore,
    nodes: NodeClient,
    selfAddr: () => string,
    zone: string,
    forwards: ForwardGuard,
    putStallMs: number,
    gate: ManifestGate,
    replaced: ReplacedManifests,
    digests: ObjectDigests,
  ) {
    this.#replaced = replaced;
    this.nodeId = store.nodeId;
    this.#digests = digests;
    this.#gate = gate;
    this.#store = store;
    this.#tables = tables;
    this.#putRecords = new PutRecords(tables);
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
    checkPutRecords(request);
    const held = request.kind === "manifest" ? await this.#replaced.held(request.id) : undefined;
    const gated = request.kind === "manifest" ? await this.#gate.gate(request.id, body) : body;
    // The records commit once the body has arrived, with those of the PUTs beside it, while the
    // object is synced: their commit is off the PUT's path.
    const records = request.records ?? [];
    const keeping = records.length > 0 ? this.#putRecords.add(records) : undefined;
    keeping?.catch(() => {});
    const selfAddr = this.#selfAddr();
    const result = await chainPut(
      {
        store: this.#store,
        peers: this.#nodes,
        selfAddr,
        stallMs: this.#putStallMs,
        bodyArrived: () => this.#putRecords.flush(),
      },
      request,
      gated,
      signal,
    );
    if (held !== undefined && result.stored.includes(selfAddr))
      this.#replaced.replaced(held, request.checksum);
    if (keeping === undefined || !result.stored.includes(selfAddr)) return result;
    try {
      await keeping;
      return result;
    } catch (err) {
      // The object without its records would be a chunk nothing holds: this node did not store it.
      const e = toDfsError(err);
      return {
        stored: result.stored.filter((a) => a !== selfAddr),
        failed: [{ addr: selfAddr, code: e.code, message: e.message }, ...result.failed],
      };
    }
  }

  get(request: GetRequest): Promise<{ size: number; length: number; source: ObjectSource }> {
    return this.#store.openSource(request.kind, request.id, request);
  }

  /**
   * A gateway asks for one manifest before every upload, one that is usually held nowhere: that is
   * answered without leaving the event loop, as the manifest gate asks (holdsNow: the cache, the
   * packs' index, a statSync), because an async stat that fails costs ~30-45 µs of CPU (the error
   * it builds) where a statSync costs ~5. Longer lists (repair's) stay on the thread pool: a
   * thousand stats of cold directories must not stall the event loop.
   */
  async has(kind: ObjectKind, ids: string[]): Promise<boolean[]> {
    if (kind === "manifest" && ids.length <= HELD_NOW_MAX_IDS) {
      return ids.map((id) => this.#store.holdsNow(kind, id));
    }
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

  async sync(request: SyncRequest): Promise<SyncDigests | SyncElements> {
    return answerSync(this.#digests, request);
  }
}
