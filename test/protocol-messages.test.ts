import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type ErrorCode, ErrorCodes, isDfsError } from "../src/errors.ts";
import {
  ErrorMsg,
  GetReq,
  GetRes,
  HasReq,
  HasRes,
  ListReq,
  ListRes,
  PutReq,
  PutRes,
  StatRes,
} from "../src/protocol/index.ts";

const id = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a).toString("hex"));
const kind = fc.constantFrom("chunk" as const, "manifest" as const);
const addr = fc.string({ maxLength: 60 });
const size = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const code = fc.constantFrom(...(Object.keys(ErrorCodes) as ErrorCode[]));

describe("message codecs", () => {
  test("every message decodes to what was encoded", () => {
    fc.assert(
      fc.property(
        kind,
        id,
        size,
        fc.option(id, { nil: undefined }),
        fc.array(addr, { maxLength: 15 }),
        (k, i, s, c, f) => {
          const m = { kind: k, id: i, size: s, checksum: c, forward: f };
          assert.deepEqual(PutReq.decode(PutReq.encode(m)), m);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.array(addr, { maxLength: 16 }),
        fc.array(
          fc.record({ addr, code, message: fc.string({ maxLength: 100 }) }).map((r) => ({ ...r })),
          { maxLength: 16 },
        ),
        (stored, failed) => {
          assert.deepEqual(PutRes.decode(PutRes.encode({ stored, failed })), { stored, failed });
        },
      ),
    );
    fc.assert(
      fc.property(kind, id, size, fc.option(size, { nil: undefined }), (k, i, offset, length) => {
        const m = { kind: k, id: i, offset, length };
        assert.deepEqual(GetReq.decode(GetReq.encode(m)), m);
      }),
    );
    fc.assert(
      fc.property(
        kind,
        fc.array(id, { maxLength: 50 }),
        fc.array(fc.boolean(), { maxLength: 50 }),
        (k, ids, bits) => {
          assert.deepEqual(HasReq.decode(HasReq.encode(k, ids)), { kind: k, ids });
          assert.deepEqual(HasRes.decode(HasRes.encode(bits)), bits);
        },
      ),
    );
    fc.assert(
      fc.property(
        kind,
        fc.option(id, { nil: undefined }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(id, { maxLength: 20 }),
        (k, after, limit, ids) => {
          assert.deepEqual(ListReq.decode(ListReq.encode({ kind: k, after, limit })), {
            kind: k,
            after,
            limit,
          });
          assert.deepEqual(
            ListRes.decode(ListRes.encode({ ids, next: after })),
            after === undefined ? { ids } : { ids, next: after },
          );
        },
      ),
    );
    fc.assert(
      fc.property(code, fc.string({ maxLength: 200 }), (c, message) => {
        assert.deepEqual(ErrorMsg.decode(ErrorMsg.encode({ code: c, message })), { code: c, message });
      }),
    );
    const stat = {
      nodeId: "n1",
      zone: "z",
      capacityBytes: 10,
      freeBytes: 5,
      chunkCount: 3,
      manifestCount: 1,
      storedBytes: 5,
    };
    assert.deepEqual(StatRes.decode(StatRes.encode(stat)), stat);
    assert.deepEqual(GetRes.decode(GetRes.encode({ size: 9, length: 4 })), { size: 9, length: 4 });
  });

  test("truncated or padded bodies and hostile counts are protocol errors", () => {
    const body = PutReq.encode({
      kind: "chunk",
      id: "00".repeat(32),
      size: 1,
      checksum: undefined,
      forward: ["a:1"],
    });
    const protocolError = (e: unknown) => isDfsError(e, "DFS_ERR_PROTOCOL");
    for (let cut = 0; cut < body.length; cut++)
      assert.throws(() => PutReq.decode(body.subarray(0, cut)), protocolError);
    assert.throws(() => PutReq.decode(Buffer.concat([body, Buffer.from([0])])), protocolError);
    const hostile = Buffer.from(body);
    hostile.writeUInt16BE(60_000, 1 + 32 + 8 + 1); // forward count
    assert.throws(() => PutReq.decode(hostile), protocolError);
    assert.throws(
      () => ListReq.decode(ListReq.encode({ kind: "chunk", after: undefined, limit: 5000 })),
      protocolError,
    );
    const badKind = GetReq.encode({ kind: "chunk", id: "00".repeat(32), offset: 0, length: undefined });
    badKind[0] = 9;
    assert.throws(() => GetReq.decode(badKind), protocolError);
  });

  test("wire numbers of error codes are unique", () => {
    const wires = Object.values(ErrorCodes).map((c) => c.wire);
    assert.equal(new Set(wires).size, wires.length);
  });
});
