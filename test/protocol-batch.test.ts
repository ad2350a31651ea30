import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isDfsError } from "../src/errors.ts";
import {
  type BatchedFrame,
  batchedBytes,
  encodeHeader,
  FrameDecoder,
  FrameFlags,
  FrameType,
  Limits,
  OpeningKey,
  SealingKey,
  sealBatch,
  TAG_BYTES,
} from "../src/protocol/index.ts";

const KEY = Buffer.alloc(32, 11);
const isAuth = (e: unknown) => isDfsError(e, "DFS_ERR_AUTH");
const isProtocol = (e: unknown) => isDfsError(e, "DFS_ERR_PROTOCOL");

interface Seen {
  type: number;
  requestId: number;
  flags: number;
  body: string;
}

/** A BATCH of `frames` as a sender seals it. */
function sealedBatch(key: SealingKey, frames: readonly BatchedFrame[]): Buffer {
  const bytes = frames.reduce((n, f) => n + batchedBytes(f.body), 0);
  return Buffer.concat(sealBatch(key, frames, bytes));
}

/**
 * A BATCH sealed under `key` around any content: `plain` (headers and control bodies, encrypted)
 * and `data` (the clear bytes), with `count` as its clear-byte count (data's length by default).
 */
function rawBatch(key: SealingKey, plain: Buffer, data: Buffer, count = data.length): Buffer {
  const clear = Buffer.concat([Buffer.alloc(4), data]);
  clear.writeUInt32BE(count, 0);
  const header = encodeHeader(FrameType.BATCH, 0, clear.length + plain.length + TAG_BYTES);
  return Buffer.concat([header, clear, key.seal(header, plain, clear)]);
}

/** A decoder under KEY fed `chunks`; what reached its sink, DATA re-joined per frame. */
function decode(chunks: Buffer[], sealed = true): Seen[] {
  const seen: Seen[] = [];
  let pieces: Buffer[] = [];
  const d = new FrameDecoder({
    onFrame: (h, body) => seen.push({ ...pick(h), body: body.toString("hex") }),
    onData: (_h, piece) => pieces.push(Buffer.from(piece)),
    onDataEnd: (h) => {
      seen.push({ ...pick(h), body: Buffer.concat(pieces).toString("hex") });
      pieces = [];
    },
  });
  if (sealed) d.open(new OpeningKey(KEY));
  for (const c of chunks) d.push(c);
  return seen;
}

/** Like decode, but returns what the sink saw before the decoder threw, and the error. */
function decodeFailing(wire: Buffer): { seen: Seen[]; err: unknown } {
  const seen: Seen[] = [];
  const d = new FrameDecoder({
    onFrame: (h, body) => seen.push({ ...pick(h), body: body.toString("hex") }),
    onData: () => {},
    onDataEnd: (h) => seen.push({ ...pick(h), body: "" }),
  });
  d.open(new OpeningKey(KEY));
  try {
    d.push(wire);
  } catch (err) {
    return { seen, err };
  }
  return { seen, err: undefined };
}

const pick = (h: { type: number; requestId: number; flags: number }) => ({
  type: h.type,
  requestId: h.requestId,
  flags: h.flags,
});

const frameArb = fc.record({
  type: fc.constantFrom(FrameType.DATA, FrameType.RESULT, FrameType.PUT, FrameType.HAS, FrameType.ERROR),
  requestId: fc.integer({ min: 1, max: 0xffffffff }),
  flags: fc.constantFrom(0, FrameFlags.END),
  body: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
});

describe("BATCH frames", () => {
  test("a BATCH's frames reach the sink in order, as if sent one by one, however the bytes are cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(frameArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (batches, cuts) => {
          const send = new SealingKey(KEY);
          const wire = Buffer.concat(batches.map((frames) => sealedBatch(send, frames)));
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const p of [...points, wire.length]) {
            chunks.push(wire.subarray(at, p));
            at = p;
          }
          const expected = batches.flat().map((f) => ({ ...pick(f), body: f.body.toString("hex") }));
          assert.deepEqual(decode(chunks), expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("any flipped bit of a BATCH fails its tag, and none of its frames is delivered", () => {
    const send = new SealingKey(KEY);
    const wire = sealedBatch(send, [
      { type: FrameType.PING, requestId: 1, flags: 0, body: Buffer.alloc(0) },
      { type: FrameType.DATA, requestId: 2, flags: FrameFlags.END, body: Buffer.from("manifest bytes") },
      { type: FrameType.HAS, requestId: 3, flags: 0, body: Buffer.from("has body") },
    ]);
    assert.equal(decode([wire]).length, 3);
    // Past the header: the clear-byte count (bytes 12-15; too large is a malformed BATCH), the
    // clear DATA bytes, the ciphertext, the tag.
    for (let bit = 12 * 8; bit < wire.length * 8; bit += 3) {
      const bad = Buffer.from(wire);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const { seen, err } = decodeFailing(bad);
      const inCount = bit >> 3 < 16;
      assert.ok(isAuth(err) || (inCount && isProtocol(err)), `bit ${bit}: ${String(err)}`);
      assert.deepEqual(seen, []);
    }
  });

  test("a replayed BATCH, or one sealed under the other direction's key, fails", () => {
    const send = new SealingKey(KEY);
    const one = sealedBatch(send, [
      { type: FrameType.PING, requestId: 1, flags: 0, body: Buffer.alloc(0) },
      { type: FrameType.PING, requestId: 2, flags: 0, body: Buffer.alloc(0) },
    ]);
    const replayed = decodeFailing(Buffer.concat([one, one]));
    assert.ok(isAuth(replayed.err));
    assert.equal(replayed.seen.length, 2, "the first delivery only");
    const reflected = sealedBatch(new SealingKey(Buffer.alloc(32, 12)), [
      { type: FrameType.PING, requestId: 1, flags: 0, body: Buffer.alloc(0) },
    ]);
    const { seen, err } = decodeFailing(reflected);
    assert.ok(isAuth(err));
    assert.deepEqual(seen, []);
  });

  test("a malformed BATCH is refused whole (DFS_ERR_PROTOCOL): nothing in it is delivered", () => {
    const head = (type: number, length: number, version = 2) => {
      const h = encodeHeader(type as FrameType, 3, length);
      h[0] = version;
      return h;
    };
    const ping = head(FrameType.PING, 0);
    const none = Buffer.alloc(0);
    const cases: [string, Buffer, Buffer, number?][] = [
      ["no frame", none, none],
      ["a cut header at the end", Buffer.concat([ping, Buffer.alloc(5)]), none],
      [
        "a control body longer than the rest",
        Buffer.concat([ping, head(FrameType.RESULT, 10), Buffer.alloc(9)]),
        none,
      ],
      [
        "a DATA body longer than the clear bytes",
        Buffer.concat([ping, head(FrameType.DATA, 10)]),
        Buffer.alloc(9),
      ],
      ["clear bytes left over", ping, Buffer.alloc(3)],
      ["a clear-byte count past the body", ping, none, 1000],
      ["a BATCH inside", Buffer.concat([ping, head(FrameType.BATCH, 0)]), none],
      ["HELLO inside", Buffer.concat([ping, head(FrameType.HELLO, 0)]), none],
      ["AUTH inside", Buffer.concat([ping, head(FrameType.AUTH, 0)]), none],
      ["READY inside", Buffer.concat([ping, head(FrameType.READY, 0)]), none],
      ["an unknown type", Buffer.concat([ping, head(0x7f, 0)]), none],
      ["another version", Buffer.concat([ping, head(FrameType.PING, 0, 1)]), none],
      [
        "a control body over its limit",
        Buffer.concat([ping, head(FrameType.RESULT, Limits.MAX_CONTROL_BODY + 1)]),
        none,
      ],
    ];
    for (const [what, plain, data, count] of cases) {
      const { seen, err } = decodeFailing(rawBatch(new SealingKey(KEY), plain, data, count));
      assert.ok(isProtocol(err), `${what}: ${String(err)}`);
      assert.deepEqual(seen, [], what);
    }
    // The same helper with well-formed content is accepted: the cases above fail for their fault.
    const fine = rawBatch(
      new SealingKey(KEY),
      Buffer.concat([ping, head(FrameType.DATA, 3)]),
      Buffer.from("abc"),
    );
    assert.equal(decodeFailing(fine).err, undefined);
    assert.deepEqual(decodeFailing(fine).seen.length, 2);
  });

  test("a BATCH is refused on its header before the link is sealed, or over its size limit", () => {
    const batch = sealedBatch(new SealingKey(KEY), [
      { type: FrameType.PING, requestId: 1, flags: 0, body: Buffer.alloc(0) },
    ]);
    assert.throws(() => decode([batch], false), isProtocol);
    // The header alone: nothing is allocated for a body that would be over the limit.
    const huge = encodeHeader(FrameType.BATCH, 0, Limits.MAX_CONTROL_BODY + TAG_BYTES + 1);
    assert.throws(() => decode([huge]), isProtocol);
  });
});
