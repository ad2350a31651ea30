import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isDfsError } from "../src/errors.ts";
import {
  encodeFrame,
  encodeHeader,
  FrameDecoder,
  FrameFlags,
  type FrameHeader,
  FrameType,
  Limits,
  PROTOCOL_VERSION,
} from "../src/protocol/index.ts";

interface Seen {
  type: number;
  requestId: number;
  flags: number;
  body: Buffer;
}

/** Collects frames, re-joining DATA pieces so the result can be compared with what was sent. */
function collector(): { decoder: FrameDecoder; seen: Seen[] } {
  const seen: Seen[] = [];
  let pieces: Buffer[] = [];
  const decoder = new FrameDecoder({
    onFrame: (h: FrameHeader, body: Buffer) => seen.push({ ...pick(h), body }),
    onData: (_h, piece) => pieces.push(Buffer.from(piece)),
    onDataEnd: (h) => {
      seen.push({ ...pick(h), body: Buffer.concat(pieces) });
      pieces = [];
    },
  });
  return { decoder, seen };
}

const pick = (h: FrameHeader) => ({ type: h.type, requestId: h.requestId, flags: h.flags });

const frameArb = fc.record({
  type: fc.constantFrom(FrameType.DATA, FrameType.RESULT, FrameType.PUT, FrameType.PING, FrameType.ERROR),
  requestId: fc.integer({ min: 0, max: 0xffffffff }),
  flags: fc.constantFrom(0, FrameFlags.END),
  body: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
});

describe("FrameDecoder", () => {
  test("valid streams split at random points decode to the frames that were sent", () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, cuts) => {
          const wire = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.requestId, f.body, f.flags)));
          const points = [...new Set(cuts.map((c) => (wire.length === 0 ? 0 : c % wire.length)))].sort(
            (a, b) => a - b,
          );
          const { decoder, seen } = collector();
          let last = 0;
          for (const p of [...points, wire.length]) {
            decoder.push(wire.subarray(last, p));
            last = p;
          }
          assert.equal(decoder.midFrame, false);
          assert.deepEqual(
            seen,
            frames.map((f) => ({ ...f })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test("one byte at a time", () => {
    const frames = [
      encodeFrame(FrameType.PING, 7),
      encodeFrame(FrameType.DATA, 7, Buffer.from("hello"), FrameFlags.END),
    ];
    const { decoder, seen } = collector();
    for (const byte of Buffer.concat(frames)) decoder.push(Buffer.from([byte]));
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.body.toString(), "hello");
  });

  test("a length field over the limit is refused before any allocation", () => {
    const { decoder } = collector();
    const header = encodeHeader(FrameType.DATA, 1, 0);
    header.writeUInt32BE(0xffffffff, 8); // 4 GiB
    assert.throws(
      () => decoder.push(header),
      (err) => isDfsError(err, "DFS_ERR_PROTOCOL"),
    );
    const control = encodeHeader(FrameType.PUT, 1, Limits.MAX_CONTROL_BODY + 1);
    assert.throws(
      () => collector().decoder.push(control),
      (err) => isDfsError(err, "DFS_ERR_PROTOCOL"),
    );
  });

  test("unknown type and wrong version are refused", () => {
    const unknown = encodeHeader(FrameType.PING, 1, 0);
    unknown[1] = 0x7f;
    assert.throws(
      () => collector().decoder.push(unknown),
      (err) => isDfsError(err, "DFS_ERR_PROTOCOL"),
    );
    const version = encodeHeader(FrameType.PING, 1, 0);
    version[0] = PROTOCOL_VERSION + 1;
    assert.throws(
      () => collector().decoder.push(version),
      (err) => isDfsError(err, "DFS_ERR_VERSION"),
    );
  });

  test("a truncated frame leaves the decoder mid-frame", () => {
    const { decoder, seen } = collector();
    const frame = encodeFrame(FrameType.RESULT, 3, Buffer.alloc(100, 1));
    decoder.push(frame.subarray(0, 50));
    assert.equal(decoder.midFrame, true);
    assert.equal(seen.length, 0);
  });

  test("golden header bytes: the frame layout is pinned", () => {
    const frame = encodeFrame(FrameType.GET, 0x01020304, Buffer.from([0xaa, 0xbb]), FrameFlags.END);
    assert.equal(frame.toString("hex"), "02120001010203040000000" + "2aabb");
  });
});
