import type { ListPage, ObjectKind, ObjectSource } from "../formats/index.ts";
import { Limits } from "../protocol/index.ts";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";
import type { IncomingBody, NodeClient, Peer, RequestHandlers, RequestType } from "../transport/index.ts";
import type { ForwardGuard } from "./forward.ts";
import type { ManifestGate } from "./manifest-gate.ts";
import { chainPut } from "./put.ts";
import { authorize } from "./roles.ts";
import type { ObjectStore } from "./store/index.ts";

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

  /** `gate`: checks manifest objects that would replace a copy. */
  constructor(
    store: ObjectStore,
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
}
