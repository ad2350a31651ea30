import { DfsError } from "../errors.ts";
import type { ListPage, ObjectKind, ObjectSource } from "../formats/index.ts";
import { Limits } from "../protocol/index.ts";
import type { GetRequest, ListRequest, PutRequest } from "../protocol/messages.ts";
import type { NodeStat, PutResult } from "../protocol/types.ts";
import type { IncomingBody, NodeClient, RequestHandlers } from "../transport/index.ts";
import { chainPut } from "./put.ts";
import type { ChunkStore } from "./store/index.ts";

/** The storage node's answers to node-protocol requests: the store on disk plus forwarding. */
export class NodeHandlers implements RequestHandlers {
  readonly nodeId: string;
  readonly #store: ChunkStore;
  readonly #nodes: NodeClient;
  readonly #selfAddr: () => string;
  readonly #zone: string;

  constructor(store: ChunkStore, nodes: NodeClient, selfAddr: () => string, zone: string) {
    this.nodeId = store.nodeId;
    this.#store = store;
    this.#nodes = nodes;
    this.#selfAddr = selfAddr;
    this.#zone = zone;
  }

  put(request: PutRequest, body: IncomingBody, signal: AbortSignal): Promise<PutResult> {
    if (request.forward.includes(this.#selfAddr())) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", "forward list names this node: the chain would loop");
    }
    return chainPut(this.#store, this.#nodes, this.#selfAddr(), request, body, signal);
  }

  get(request: GetRequest): Promise<{ size: number; length: number; source: ObjectSource }> {
    return this.#store.openSource(request.kind, request.id, request.offset, request.length);
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
