import { codeFromWire, DfsError, type ErrorCode, ErrorCodes } from "../errors.ts";
import type { TableRecord } from "../formats/index.ts";
import { BodyReader, BodyWriter, utf8Prefix } from "./codec.ts";
import { Limits } from "./frame.ts";
import { readRecords, writeRecords } from "./tables.ts";
import type { ListPage, NodeStat, ObjectKind, PutResult } from "./types.ts";

/**
 * One encode/decode pair per message body. Layouts are in docs/protocol.md; every decoder reads
 * the whole body (BodyReader.end) so an encoder change without a decoder change fails loudly.
 */

const KIND_WIRE: Record<ObjectKind, number> = { chunk: 0, manifest: 1 };

function readKind(r: BodyReader): ObjectKind {
  const v = r.u8();
  if (v === 0) return "chunk";
  if (v === 1) return "manifest";
  throw new DfsError("DFS_ERR_PROTOCOL", `unknown object kind ${v}`);
}

function readOptionalId(r: BodyReader): string | undefined {
  return r.u8() === 1 ? r.id() : undefined;
}

function writeOptionalId(w: BodyWriter, id: string | undefined): BodyWriter {
  return id === undefined ? w.u8(0) : w.u8(1).id(id);
}

// --- ERROR ---------------------------------------------------------------------------------------
export interface ErrorMessage {
  code: ErrorCode;
  message: string;
}
export const ErrorMsg = {
  encode: (m: ErrorMessage): Buffer =>
    new BodyWriter().u16(ErrorCodes[m.code].wire).str(utf8Prefix(m.message, Limits.MAX_ERROR_MESSAGE)).done(),
  decode(body: Buffer): ErrorMessage {
    const r = new BodyReader(body);
    const m = { code: codeFromWire(r.u16()), message: r.str() };
    r.end();
    return m;
  },
};

// --- PUT -----------------------------------------------------------------------------------------
export interface PutRequest {
  kind: ObjectKind;
  id: string;
  size: number;
  checksum: string | undefined;
  forward: string[];
  /**
   * Table records stored with the object, in the same request (a chunk's references): each node of
   * the chain keeps them once it holds the object. An optional trailing section: absent when empty.
   */
  records?: TableRecord[];
}
export const PutReq = {
  encode(m: PutRequest): Buffer {
    const w = new BodyWriter().u8(KIND_WIRE[m.kind]).id(m.id).u64(m.size);
    writeOptionalId(w, m.checksum).u16(m.forward.length);
    for (const addr of m.forward) w.str(addr);
    if (m.records !== undefined && m.records.length > 0) writeRecords(w, m.records);
    return w.done();
  },
  decode(body: Buffer): PutRequest {
    const r = new BodyReader(body);
    const kind = readKind(r);
    const id = r.id();
    const size = r.u64();
    const checksum = readOptionalId(r);
    const n = r.count(Limits.MAX_FORWARD);
    const forward: string[] = [];
    for (let i = 0; i < n; i++) forward.push(r.str());
    const records = r.more ? readRecords(r, Limits.MAX_PUT_RECORDS) : [];
    r.end();
    return { kind, id, size, checksum, forward, records };
  },
};
export const PutRes = {
  encode(m: PutResult): Buffer {
    const w = new BodyWriter().u16(m.stored.length);
    for (const addr of m.stored) w.str(addr);
    w.u16(m.failed.length);
    for (const f of m.failed)
      w.str(f.addr).u16(ErrorCodes[f.code].wire).str(utf8Prefix(f.message, Limits.MAX_ERROR_MESSAGE));
    return w.done();
  },
  decode(body: Buffer): PutResult {
    const r = new BodyReader(body);
    const stored: string[] = [];
    for (let i = r.count(Limits.MAX_FORWARD + 1); i > 0; i--) stored.push(r.str());
    const failed: PutResult["failed"] = [];
    for (let i = r.count(Limits.MAX_FORWARD + 1); i > 0; i--) {
      failed.push({ addr: r.str(), code: codeFromWire(r.u16()), message: r.str() });
    }
    r.end();
    return { stored, failed };
  },
};

// --- GET -----------------------------------------------------------------------------------------
export interface GetRequest {
  kind: ObjectKind;
  id: string;
  offset: number;
  /** undefined = to the end. */
  length: number | undefined;
}
export const GetReq = {
  encode(m: GetRequest): Buffer {
    const w = new BodyWriter().u8(KIND_WIRE[m.kind]).id(m.id).u64(m.offset);
    return (m.length === undefined ? w.u8(0) : w.u8(1).u64(m.length)).done();
  },
  decode(body: Buffer): GetRequest {
    const r = new BodyReader(body);
    const kind = readKind(r);
    const id = r.id();
    const offset = r.u64();
    const length = r.u8() === 1 ? r.u64() : undefined;
    r.end();
    return { kind, id, offset, length };
  },
};
/** Sent before the DATA frames of a GET. */
export interface GetResponse {
  size: number;
  length: number;
}
export const GetRes = {
  encode: (m: GetResponse): Buffer => new BodyWriter().u64(m.size).u64(m.length).done(),
  decode(body: Buffer): GetResponse {
    const r = new BodyReader(body);
    const m = { size: r.u64(), length: r.u64() };
    r.end();
    return m;
  },
};

// --- HAS -----------------------------------------------------------------------------------------
export const HasReq = {
  encode(kind: ObjectKind, ids: readonly string[]): Buffer {
    const w = new BodyWriter().u8(KIND_WIRE[kind]).u16(ids.length);
    for (const id of ids) w.id(id);
    return w.done();
  },
  decode(body: Buffer): { kind: ObjectKind; ids: string[] } {
    const r = new BodyReader(body);
    const kind = readKind(r);
    const ids: string[] = [];
    for (let i = r.count(Limits.MAX_HAS_IDS); i > 0; i--) ids.push(r.id());
    r.end();
    return { kind, ids };
  },
};
export const HasRes = {
  encode(present: readonly boolean[]): Buffer {
    return new BodyWriter()
      .u16(present.length)
      .bytes(Buffer.from(present.map((p) => (p ? 1 : 0))))
      .done();
  },
  decode(body: Buffer): boolean[] {
    const r = new BodyReader(body);
    const n = r.count(Limits.MAX_HAS_IDS);
    const bits = [...r.bytes(n)].map((b) => b === 1);
    r.end();
    return bits;
  },
};

// --- STAT / PING ---------------------------------------------------------------------------------
export const StatRes = {
  encode: (m: NodeStat): Buffer =>
    new BodyWriter()
      .str(m.nodeId)
      .str(m.zone)
      .u64(m.capacityBytes)
      .u64(m.freeBytes)
      .u64(m.chunkCount)
      .u64(m.manifestCount)
      .u64(m.storedBytes)
      .done(),
  decode(body: Buffer): NodeStat {
    const r = new BodyReader(body);
    const m: NodeStat = {
      nodeId: r.str(),
      zone: r.str(),
      capacityBytes: r.u64(),
      freeBytes: r.u64(),
      chunkCount: r.u64(),
      manifestCount: r.u64(),
      storedBytes: r.u64(),
    };
    r.end();
    return m;
  },
};
/** PING's result, READY's body: the node id. */
export const NodeIdMsg = {
  encode: (nodeId: string): Buffer => new BodyWriter().str(nodeId).done(),
  decode(body: Buffer): string {
    const r = new BodyReader(body);
    const v = r.str();
    r.end();
    return v;
  },
};

// --- LIST ----------------------------------------------------------------------------------------
export interface ListRequest {
  kind: ObjectKind;
  after: string | undefined;
  limit: number;
}
export const ListReq = {
  encode: (m: ListRequest): Buffer =>
    writeOptionalId(new BodyWriter().u8(KIND_WIRE[m.kind]), m.after).u32(m.limit).done(),
  decode(body: Buffer): ListRequest {
    const r = new BodyReader(body);
    const kind = readKind(r);
    const after = readOptionalId(r);
    const limit = r.u32();
    r.end();
    if (limit === 0 || limit > Limits.MAX_LIST_LIMIT) {
      throw new DfsError("DFS_ERR_PROTOCOL", `list limit must be 1..${Limits.MAX_LIST_LIMIT}`);
    }
    return { kind, after, limit };
  },
};
export const ListRes = {
  encode(m: ListPage): Buffer {
    const w = new BodyWriter().u16(m.ids.length);
    for (const id of m.ids) w.id(id);
    return writeOptionalId(w, m.next).done();
  },
  decode(body: Buffer): ListPage {
    const r = new BodyReader(body);
    const ids: string[] = [];
    for (let i = r.count(Limits.MAX_LIST_LIMIT); i > 0; i--) ids.push(r.id());
    const next = readOptionalId(r);
    r.end();
    return next === undefined ? { ids } : { ids, next };
  },
};
