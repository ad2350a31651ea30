import type { Readable } from "node:stream";
import { DfsError } from "../errors.ts";
import {
  type ApplyResult,
  isObjectId,
  type ListPage,
  type ObjectKind,
  type TableRecord,
} from "../formats/index.ts";
import {
  EMPTY,
  FrameType,
  GetReq,
  GetRes,
  HasReq,
  HasRes,
  HEADER_BYTES,
  Limits,
  ListReq,
  ListRes,
  NodeIdMsg,
  PutReq,
  PutRes,
  StatRes,
  SyncReq,
  type SyncRequest,
  SyncRes,
  TAG_BYTES,
  TableReadReq,
  type TableReadRequest,
  TableReadRes,
  type TableReadResult,
  TableWriteReq,
  TableWriteRes,
} from "../protocol/index.ts";
import type {
  GetOptions,
  GetResult,
  NodeApi,
  NodeStat,
  PutOptions,
  PutResult,
  Synced,
  TableCallOptions,
} from "./api.ts";
import type { Reply, RequestOptions, Upload } from "./connection.ts";
import type { LinkTrust } from "./link.ts";
import { ConnectionPool, type PeerIds } from "./pool.ts";
import { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";

export interface NodeClientOptions {
  /** This process's credential and key, the trust anchor, and the cluster secret. */
  trust: LinkTrust;
  /**
   * The node id the registry names for an address; the node there must present a credential for
   * exactly that id. Absent, or undefined for an address: any `node` credential of the authority
   * (callers that only have an address, like a chain forward, learn the id from the connection).
   * Throw a DfsError to refuse an address outright.
   */
  peerIds?: PeerIds;
  timeouts?: Partial<Timeouts>;
  maxConnectionsPerPeer?: number;
}

/** An open PUT (see NodeClient.openPut): the Upload to write into, and the decoded answer. */
export interface PutUpload extends Upload {
  readonly result: Promise<PutResult>;
  /** The node id the peer proved in the handshake: who the bytes really go to. */
  readonly peerId: string;
}

/**
 * PUTs up to this size (manifests, small chunks) may share a connection with other small requests;
 * the gateway sends objects this small straight to each owner, so that they batch.
 */
export const SMALL_PUT_MAX_BYTES = 64 * 1024;
const SMALL: RequestOptions = { small: true };

function checkId(id: string): void {
  if (!isObjectId(id)) throw new DfsError("DFS_ERR_INVALID_HASH", `not a lowercase hex SHA-256: ${id}`);
}

function putRequest(id: string, size: number, options: PutOptions): Buffer {
  checkId(id);
  if (options.checksum !== undefined) checkId(options.checksum);
  const forward = [...(options.forward ?? [])];
  if (forward.length > Limits.MAX_FORWARD) throw new DfsError("DFS_ERR_BAD_REQUEST", "forward list too long");
  const records = [...(options.records ?? [])];
  if (records.length > Limits.MAX_PUT_RECORDS)
    throw new DfsError("DFS_ERR_BAD_REQUEST", `at most ${Limits.MAX_PUT_RECORDS} records per PUT`);
  return PutReq.encode({
    kind: options.kind ?? "chunk",
    id,
    size,
    checksum: options.checksum,
    forward,
    records,
  });
}

/** The one client of the node protocol, used by gateways, nodes (forwarding, repair) and the CLI. */
export class NodeClient implements NodeApi {
  readonly #pool: ConnectionPool;

  constructor(options: NodeClientOptions) {
    this.#pool = new ConnectionPool(
      options.trust,
      options.peerIds ?? (() => undefined),
      { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      options.maxConnectionsPerPeer ?? 4,
    );
  }

  async #call(addr: string, type: FrameType, body: Buffer, options: RequestOptions): Promise<Reply> {
    const conn = await this.#pool.acquire(addr, options.small);
    return conn.request(type, body, options);
  }

  async put(
    addr: string,
    id: string,
    data: Buffer | Readable,
    size: number,
    options: PutOptions = {},
  ): Promise<PutResult> {
    if (Buffer.isBuffer(data) && data.length !== size) {
      throw new DfsError("DFS_ERR_BAD_REQUEST", `size ${size} does not match the ${data.length} bytes given`);
    }
    const body = putRequest(id, size, options);
    const small = Buffer.isBuffer(data) && data.length <= SMALL_PUT_MAX_BYTES;
    const reply = await this.#call(addr, FrameType.PUT, body, {
      data,
      signal: options.signal,
      small,
      wholeChunk: (options.kind ?? "chunk") === "chunk",
    });
    return PutRes.decode(reply.payload);
  }

  /**
   * A PUT whose bytes the caller sends as they come (a node forwarding down its chain): write the
   * pieces (exactly `size` bytes), end(), then await result. Not part of NodeApi: the one user is
   * the node's pipeline, which lends pooled memory and needs to know when each piece was sent.
   */
  async openPut(addr: string, id: string, size: number, options: PutOptions = {}): Promise<PutUpload> {
    const body = putRequest(id, size, options);
    const conn = await this.#pool.acquire(addr);
    const upload = conn.upload(FrameType.PUT, body, options.signal, (options.kind ?? "chunk") === "chunk");
    const result = upload.reply.then((r) => PutRes.decode(r.payload));
    // The caller awaits `result` only once its body is flowing; a cancel may reject it before.
    result.catch(() => {});
    return Object.assign(upload, { result, peerId: conn.nodeId });
  }

  async get(addr: string, id: string, options: GetOptions = {}): Promise<GetResult> {
    checkId(id);
    const body = GetReq.encode({
      kind: options.kind ?? "chunk",
      id,
      offset: options.offset ?? 0,
      length: options.length,
    });
    const reply = await this.#call(addr, FrameType.GET, body, { stream: true, signal: options.signal });
    const head = GetRes.decode(reply.payload);
    return { size: head.size, body: reply.stream! };
  }

  async getBuffer(addr: string, id: string, options: GetOptions = {}): Promise<Buffer> {
    checkId(id);
    const offset = options.offset ?? 0;
    const body = GetReq.encode({ kind: options.kind ?? "chunk", id, offset, length: options.length });
    // The length comes with the RESULT: every piece is copied once, from the socket's read
    // buffer straight into its final place.
    const reply = await this.#call(addr, FrameType.GET, body, {
      collect: (payload) => {
        const length = GetRes.decode(payload).length;
        const into = options.into?.(length);
        return into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      },
      signal: options.signal,
      small: options.kind === "manifest",
    });
    return reply.data!;
  }

  async has(addr: string, ids: readonly string[], kind: ObjectKind = "chunk"): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < ids.length; i += Limits.MAX_HAS_IDS) {
      const batch = ids.slice(i, i + Limits.MAX_HAS_IDS);
      for (const id of batch) checkId(id);
      const reply = await this.#call(addr, FrameType.HAS, HasReq.encode(kind, batch), SMALL);
      out.push(...HasRes.decode(reply.payload));
    }
    return out;
  }

  async stat(addr: string): Promise<NodeStat> {
    return StatRes.decode((await this.#call(addr, FrameType.STAT, EMPTY, SMALL)).payload);
  }

  async list(
    addr: string,
    options: { kind?: ObjectKind; after?: string; limit?: number } = {},
  ): Promise<ListPage> {
    if (options.after !== undefined) checkId(options.after);
    const limit = Math.min(Math.max(options.limit ?? Limits.MAX_LIST_LIMIT, 1), Limits.MAX_LIST_LIMIT);
    const body = ListReq.encode({ kind: options.kind ?? "chunk", after: options.after, limit });
    return ListRes.decode((await this.#call(addr, FrameType.LIST, body, SMALL)).payload);
  }

  async tableWrite(
    addr: string,
    records: readonly TableRecord[],
    options: TableCallOptions = {},
  ): Promise<ApplyResult[]> {
    if (records.length > Limits.MAX_TABLE_BATCH)
      throw new DfsError("DFS_ERR_TOO_LARGE", `at most ${Limits.MAX_TABLE_BATCH} records per TABLE_WRITE`);
    const body = TableWriteReq.encode(records);
    if (body.length > Limits.MAX_CONTROL_BODY)
      throw new DfsError(
        "DFS_ERR_TOO_LARGE",
        `a TABLE_WRITE body is at most ${Limits.MAX_CONTROL_BODY} bytes`,
      );
    const reply = await this.#call(addr, FrameType.TABLE_WRITE, body, {
      small: true,
      signal: options.signal,
    });
    const results = TableWriteRes.decode(reply.payload);
    if (results.length !== records.length)
      throw new DfsError("DFS_ERR_PROTOCOL", `${results.length} answers to ${records.length} records`);
    return results;
  }

  async tableRead(
    addr: string,
    request: TableReadRequest,
    options: TableCallOptions = {},
  ): Promise<TableReadResult> {
    const body = TableReadReq.encode(request);
    const reply = await this.#call(addr, FrameType.TABLE_READ, body, { small: true, signal: options.signal });
    return TableReadRes.decode(reply.payload);
  }

  async ping(addr: string): Promise<{ nodeId: string; rttMs: number }> {
    const started = performance.now();
    const reply = await this.#call(addr, FrameType.PING, EMPTY, SMALL);
    return { nodeId: NodeIdMsg.decode(reply.payload), rttMs: performance.now() - started };
  }

  async sync<R extends SyncRequest>(addr: string, request: R): Promise<Synced<R>> {
    const body = SyncReq.encode(request);
    const reply = await this.#call(addr, FrameType.SYNC, body, SMALL);
    const bytes = 2 * (HEADER_BYTES + TAG_BYTES) + body.length + reply.payload.length;
    return { answer: SyncRes.decode(request, reply.payload), bytes };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
