import { DfsError } from "../errors.ts";
import { BodyReader, BodyWriter } from "./codec.ts";

/**
 * SYNC (0x19): a node asks a peer about the digests of what it holds, to find what differs
 * (src/node/sync). Layouts in docs/protocol.md, "SYNC". A tree is a set of elements, each a
 * (partition, 32-byte hash): 0 the node's chunks, 1 its manifests; a digest is u32 count ‖ 8 × u32
 * lanes of the sum of the element hashes.
 */

export const SyncLimits = {
  /** A partition set: a bitmap of the 65,536 partitions. */
  SET_BYTES: 8192,
  /** u32 count ‖ 32-byte sum. */
  DIGEST_BYTES: 36,
  /** Digests under the root. */
  GROUPS: 256,
  /** Partitions one PARTITIONS request may name. */
  MAX_PARTITIONS: 1024,
  /** Elements one ELEMENTS answer may carry (64 bytes each: id ‖ hash). */
  MAX_ELEMENTS: 1000,
  ELEMENT_BYTES: 64,
} as const;

const OP = { root: 1, groups: 2, partitions: 3, elements: 4 } as const;

/** The root's digest, or the 256 groups' (in order), over the partitions of `set`. */
export interface SyncSumsRequest {
  op: "root" | "groups";
  tree: number;
  /** SyncLimits.SET_BYTES: partition p is bit 7 - p % 8 of byte p / 8. */
  set: Uint8Array;
}
/** The digests of these partitions, in the order asked (ascending, distinct, at most 1024). */
export interface SyncPartitionsRequest {
  op: "partitions";
  tree: number;
  partitions: number[];
}
/** A page of one partition's elements with ids after `after`, ascending. */
export interface SyncElementsRequest {
  op: "elements";
  tree: number;
  partition: number;
  after: string | undefined;
  limit: number;
}
export type SyncRequest = SyncSumsRequest | SyncPartitionsRequest | SyncElementsRequest;

/** Digests as the answer carries them: n × 36 bytes. */
export interface SyncDigests {
  digests: Buffer;
}
/** n × (32-byte id ‖ 32-byte hash), ascending by id; `next` when more follow. */
export interface SyncElements {
  elements: Buffer;
  next: string | undefined;
}
export type SyncAnswer<R extends SyncRequest> = R extends SyncElementsRequest ? SyncElements : SyncDigests;

export const SyncReq = {
  encode(m: SyncRequest): Buffer {
    const w = new BodyWriter().u8(OP[m.op]).u8(m.tree);
    switch (m.op) {
      case "root":
      case "groups":
        return w.bytes(Buffer.from(m.set)).done();
      case "partitions":
        w.u16(m.partitions.length);
        for (const p of m.partitions) w.u16(p);
        return w.done();
      case "elements":
        w.u16(m.partition);
        return (m.after === undefined ? w.u8(0) : w.u8(1).id(m.after)).u16(m.limit).done();
    }
  },
  /** Every size and count is checked against SyncLimits before anything is built from it. */
  decode(body: Buffer): SyncRequest {
    const r = new BodyReader(body);
    const op = r.u8();
    const tree = r.u8();
    let m: SyncRequest;
    if (op === OP.root || op === OP.groups) {
      m = { op: op === OP.root ? "root" : "groups", tree, set: r.bytes(SyncLimits.SET_BYTES) };
    } else if (op === OP.partitions) {
      const n = r.count(SyncLimits.MAX_PARTITIONS);
      if (n === 0) throw new DfsError("DFS_ERR_PROTOCOL", "SYNC: no partitions asked");
      const partitions: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = r.u16();
        if (i > 0 && p <= partitions[i - 1]!) {
          throw new DfsError("DFS_ERR_PROTOCOL", "SYNC: partitions must be ascending and distinct");
        }
        partitions.push(p);
      }
      m = { op: "partitions", tree, partitions };
    } else if (op === OP.elements) {
      const partition = r.u16();
      const after = r.u8() === 1 ? r.id() : undefined;
      const limit = r.u16();
      if (limit === 0 || limit > SyncLimits.MAX_ELEMENTS) {
        throw new DfsError("DFS_ERR_PROTOCOL", `SYNC: element limit must be 1..${SyncLimits.MAX_ELEMENTS}`);
      }
      if (after !== undefined && Number.parseInt(after.slice(0, 4), 16) !== partition) {
        throw new DfsError("DFS_ERR_PROTOCOL", "SYNC: `after` is not in the partition asked");
      }
      m = { op: "elements", tree, partition, after, limit };
    } else {
      throw new DfsError("DFS_ERR_PROTOCOL", `SYNC: unknown op ${op}`);
    }
    r.end();
    return m;
  },
};

export const SyncRes = {
  encode(answer: SyncDigests | SyncElements): Buffer {
    if ("digests" in answer) {
      return new BodyWriter()
        .u16(answer.digests.length / SyncLimits.DIGEST_BYTES)
        .bytes(answer.digests)
        .done();
    }
    const w = new BodyWriter().u16(answer.elements.length / SyncLimits.ELEMENT_BYTES).bytes(answer.elements);
    return (answer.next === undefined ? w.u8(0) : w.u8(1).id(answer.next)).done();
  },
  /** The answer to `request`; its count must be what the request implies. */
  decode<R extends SyncRequest>(request: R, body: Buffer): SyncAnswer<R> {
    const r = new BodyReader(body);
    if (request.op === "elements") {
      const n = r.count(request.limit);
      const elements = r.bytes(n * SyncLimits.ELEMENT_BYTES);
      const next = r.u8() === 1 ? r.id() : undefined;
      r.end();
      return { elements, next } as SyncAnswer<R>;
    }
    const expected = digestsFor(request);
    const n = r.count(expected);
    if (n !== expected) throw new DfsError("DFS_ERR_PROTOCOL", `SYNC: ${n} digests for ${expected} asked`);
    const digests = r.bytes(n * SyncLimits.DIGEST_BYTES);
    r.end();
    return { digests } as SyncAnswer<R>;
  },
};

/** How many digests answer a request for digests. */
function digestsFor(request: SyncSumsRequest | SyncPartitionsRequest): number {
  switch (request.op) {
    case "root":
      return 1;
    case "groups":
      return SyncLimits.GROUPS;
    case "partitions":
      return request.partitions.length;
  }
}
