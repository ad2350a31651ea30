/**
 * The node protocol client repair uses, counting what each call puts on the link: frames (a 12-byte
 * header and a 16-byte tag each), request and answer bodies as the codecs encode them, DATA in
 * 256 KiB pieces. A PUT with a forward list goes straight to each target instead (the bench's
 * peers run without a registry, so they forward to nobody).
 */
import type { Readable } from "node:stream";
import type { ObjectKind } from "../../src/formats/index.ts";
import {
  GetReq,
  HasReq,
  HasRes,
  Limits,
  NodeIdMsg,
  PutReq,
  PutRes,
  type SyncRequest,
} from "../../src/protocol/index.ts";
import type {
  GetOptions,
  GetResult,
  NodeApi,
  NodeClient,
  PutOptions,
  PutResult,
  Synced,
} from "../../src/transport/index.ts";

const FRAME = 12 + 16;
const dataFrames = (bytes: number) => Math.max(1, Math.ceil(bytes / Limits.DATA_PIECE)) * FRAME + bytes;

export class CountedNodes implements NodeApi {
  bytes = 0;
  requests = 0;
  readonly #client: NodeClient;

  constructor(client: NodeClient) {
    this.#client = client;
  }

  reset(): void {
    this.bytes = 0;
    this.requests = 0;
  }

  async put(
    addr: string,
    id: string,
    data: Buffer | Readable,
    size: number,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const targets = [addr, ...(options.forward ?? [])];
    const out: PutResult = { stored: [], failed: [] };
    for (const target of targets) {
      const opts = { ...options, forward: [] };
      const r = await this.#client.put(target, id, data, size, opts);
      const req = PutReq.encode({
        kind: opts.kind ?? "chunk",
        id,
        size,
        checksum: opts.checksum,
        forward: [],
      });
      this.#count(req.length + PutRes.encode(r).length + 2 * FRAME + dataFrames(size));
      out.stored.push(...r.stored);
      out.failed.push(...r.failed);
    }
    return out;
  }

  async get(addr: string, id: string, options: GetOptions = {}): Promise<GetResult> {
    const got = await this.#client.get(addr, id, options);
    const length = Math.min(options.length ?? Number.POSITIVE_INFINITY, got.size - (options.offset ?? 0));
    this.#count(this.#getRequest(id, options) + 2 * FRAME + 16 + dataFrames(length));
    return got;
  }

  async getBuffer(addr: string, id: string, options: GetOptions = {}): Promise<Buffer> {
    const got = await this.#client.getBuffer(addr, id, options);
    this.#count(this.#getRequest(id, options) + 2 * FRAME + 16 + dataFrames(got.length));
    return got;
  }

  async has(addr: string, ids: readonly string[], kind: ObjectKind = "chunk"): Promise<boolean[]> {
    const answers = await this.#client.has(addr, ids, kind);
    for (let i = 0; i < ids.length; i += Limits.MAX_HAS_IDS) {
      const batch = ids.slice(i, i + Limits.MAX_HAS_IDS);
      this.#count(
        HasReq.encode(kind, batch).length +
          HasRes.encode(answers.slice(i, i + batch.length)).length +
          2 * FRAME,
      );
    }
    return answers;
  }

  async sync<R extends SyncRequest>(addr: string, request: R): Promise<Synced<R>> {
    const synced = await this.#client.sync(addr, request);
    this.#count(synced.bytes);
    return synced;
  }

  async ping(addr: string): Promise<{ nodeId: string; rttMs: number }> {
    const p = await this.#client.ping(addr);
    this.#count(2 * FRAME + NodeIdMsg.encode(p.nodeId).length);
    return p;
  }

  stat(addr: string) {
    return this.#client.stat(addr);
  }

  list(addr: string, options?: { kind?: ObjectKind; after?: string; limit?: number }) {
    return this.#client.list(addr, options);
  }

  tableWrite(...args: Parameters<NodeClient["tableWrite"]>) {
    return this.#client.tableWrite(...args);
  }

  tableRead(...args: Parameters<NodeClient["tableRead"]>) {
    return this.#client.tableRead(...args);
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  #getRequest(id: string, o: GetOptions): number {
    return GetReq.encode({ kind: o.kind ?? "chunk", id, offset: o.offset ?? 0, length: o.length }).length;
  }

  #count(bytes: number): void {
    this.requests++;
    this.bytes += bytes;
  }
}
