import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type ErrorCode, ErrorCodes, isDfsError } from "../src/errors.ts";
import type { TableRecord } from "../src/formats/index.ts";
import {
  ErrorMsg,
  GetReq,
  GetRes,
  HasReq,
  HasRes,
  Limits,
  ListReq,
  ListRes,
  PutReq,
  PutRes,
  StatRes,
  utf8Prefix,
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
          const m = { kind: k, id: i, size: s, checksum: c, forward: f, records: [] };
          assert.deepEqual(PutReq.decode(PutReq.encode(m)), m);
          // A chunk's references travel in a trailing section, absent when there are none.
          const hold: TableRecord = {
            table: "chunk_refs",
            partitionKey: Buffer.from(i, "hex"),
            sortKey: Buffer.alloc(33, 1),
            version: { hlc: 123n, writer: "gw-1" },
            deleted: false,
            value: Buffer.alloc(8, 2),
          };
          const withRecords = { ...m, records: [hold, { ...hold, deleted: true, value: Buffer.alloc(0) }] };
          assert.deepEqual(PutReq.decode(PutReq.encode(withRecords)), withRecords);
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

  test("regression: a long multi-byte error message is cut to 512 UTF-8 bytes, not 512 characters", () => {
    // 512 characters of 3-byte UTF-8 are 1,536 bytes: cut by characters, the encoder threw on the
    // 1,024-byte string limit instead of sending the ERROR (or the PUT answer listing a failure).
    const messages = [
      "é".repeat(600),
      "€".repeat(600),
      "😀".repeat(300),
      `${"a".repeat(511)}€€`,
      "x".repeat(2000),
    ];
    for (const message of messages) {
      const sent = ErrorMsg.decode(ErrorMsg.encode({ code: "DFS_ERR_INTERNAL", message })).message;
      assert.ok(Buffer.byteLength(sent) <= Limits.MAX_ERROR_MESSAGE, `${Buffer.byteLength(sent)} bytes`);
      assert.ok(message.startsWith(sent), "a prefix of the message");
      assert.ok(!sent.includes("\uFFFD"), "no character cut in half");
      const next = message.codePointAt(sent.length)!;
      assert.ok(
        Buffer.byteLength(sent) + Buffer.byteLength(String.fromCodePoint(next)) > 512,
        "as long as fits",
      );
      const failed = [{ addr: "127.0.0.1:1", code: "DFS_ERR_INTERNAL" as const, message }];
      assert.deepEqual(PutRes.decode(PutRes.encode({ stored: [], failed })).failed[0]!.message, sent);
    }
  });

  test("utf8Prefix keeps whole characters and short strings as they are", () => {
    assert.equal(utf8Prefix("abc", 512), "abc");
    assert.equal(utf8Prefix("a€b", 3), "a");
    assert.equal(utf8Prefix("a€b", 4), "a€");
    assert.equal(utf8Prefix("😀😀", 7), "😀");
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 400 }), fc.nat({ max: 1200 }), (s, max) => {
        const cut = utf8Prefix(s, max);
        assert.ok(Buffer.byteLength(cut) <= max);
        assert.ok(s.startsWith(cut));
        assert.equal(Buffer.from(cut, "utf8").toString("utf8"), cut);
      }),
    );
  });

  test("wire numbers of error codes are unique", () => {
    const wires = Object.values(ErrorCodes).map((c) => c.wire);
    assert.equal(new Set(wires).size, wires.length);
  });
});
