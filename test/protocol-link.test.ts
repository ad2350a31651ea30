import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { issueIdentity, signingKeyFromSeed, TrustAnchor } from "../src/credentials/index.ts";
import { isDfsError } from "../src/errors.ts";
import {
  FrameDecoder,
  FrameFlags,
  type FrameHeader,
  FrameType,
  HandshakeSizes,
  OpeningKey,
  openBatch,
  SealingKey,
} from "../src/protocol/index.ts";
import { ClientHandshake, type LinkTrust, ServerHandshake } from "../src/transport/link.ts";
import { Strangers, sourceOf } from "../src/transport/strangers.ts";
import { computeLinkVectors, INPUTS, openInOrder } from "./fixtures/link-vectors.ts";

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/link-vectors.json"), "utf8"));
const hex = (s: string) => Buffer.from(s, "hex");
const isAuth = (e: unknown) => isDfsError(e, "DFS_ERR_AUTH");

function trustFor(
  role: "node" | "gateway" | "admin",
  id: string,
  options: { authority?: Buffer; now?: () => number; lifetimeMs?: number; secret?: string } = {},
): LinkTrust {
  const authority = signingKeyFromSeed(options.authority ?? Buffer.alloc(32, 9));
  const now = options.now ?? Date.now;
  const issued = issueIdentity(authority, role, id, now(), options.lifetimeMs ?? 3_600_000);
  return {
    anchor: new TrustAnchor(authority.publicKey, now),
    identity: issued.identity,
    secret: Buffer.from(options.secret ?? "link-test-secret-0123"),
  };
}

/** Runs both halves in memory; returns what each side ended up with. */
function handshake(client: LinkTrust, server: LinkTrust, expected?: string) {
  const c = new ClientHandshake(client, expected);
  const s = new ServerHandshake(server);
  const serverHello = s.onHello(c.helloBody());
  const auth = c.onServerHello(serverHello, "test");
  const done = s.onAuth(auth);
  return { client: c, server: done };
}

describe("node link golden vectors (a failure here means the wire format changed)", () => {
  test("the handshake messages, keys and sealed frames are pinned", () => {
    assert.deepEqual(computeLinkVectors(), vectors);
  });

  test("the pinned sizes are the ones the pre-auth checks enforce", () => {
    assert.equal(hex(vectors.helloBody).length, HandshakeSizes.HELLO);
    const sh = hex(vectors.serverHelloBody).length;
    assert.ok(sh >= HandshakeSizes.SERVER_HELLO_MIN && sh <= HandshakeSizes.SERVER_HELLO_MAX);
    const auth = hex(vectors.authBody).length;
    assert.ok(auth >= HandshakeSizes.AUTH_MIN && auth <= HandshakeSizes.AUTH_MAX);
  });

  test("the pinned frames open in order under their direction's key, and only so", () => {
    const s2c = hex(vectors.serverToClientKey);
    const c2s = hex(vectors.clientToServerKey);
    const [ready, result] = openInOrder(s2c, [hex(vectors.readyFrame), hex(vectors.resultFrame)]);
    assert.equal(ready!.length, 0);
    assert.equal(result!.subarray(2).toString(), INPUTS.nodeId);
    // Out of order (a replay or a dropped frame) and the other direction's key (a reflection) fail.
    assert.throws(() => openInOrder(s2c, [hex(vectors.resultFrame)]), isAuth);
    assert.throws(() => openInOrder(c2s, [hex(vectors.readyFrame)]), isAuth);
    const k = new OpeningKey(c2s);
    const ping = hex(vectors.pingFrame);
    assert.equal(k.open(ping.subarray(0, 12), ping.subarray(12)).length, 0);
    const data = hex(vectors.dataFrame);
    const check = k.data(data.subarray(0, 12));
    check.update(data.subarray(12, data.length - 16));
    check.verify(data.subarray(data.length - 16));
    // A whole chunk's frame: the tag covers the header only.
    const chunk = hex(vectors.chunkDataFrame);
    k.data(chunk.subarray(0, 12)).verify(chunk.subarray(chunk.length - 16));
    const batch = hex(vectors.batchFrame);
    const inside = openBatch(k, batch.subarray(0, 12), batch.subarray(12));
    assert.deepEqual(
      inside.map(({ header, body }) => [header.type, header.requestId, header.flags, body.toString("hex")]),
      [
        [FrameType.PING, 4, 0, ""],
        [FrameType.DATA, 2, FrameFlags.END, INPUTS.chunkBytes],
      ],
    );
  });

  test("a whole chunk's DATA: its header is bound, its bytes are left to the id check", () => {
    const key = Buffer.alloc(32, 3);
    const bytes = Buffer.from("chunk bytes");
    const header = Buffer.alloc(12);
    header[0] = 2;
    header[1] = FrameType.DATA;
    header.writeUInt16BE(FrameFlags.END, 2);
    header.writeUInt32BE(9, 4);
    header.writeUInt32BE(bytes.length + 16, 8);
    const frame = Buffer.concat([header, bytes, new SealingKey(key).mac(header, Buffer.alloc(0))]);
    const decode = (f: Buffer) => {
      const got: Buffer[] = [];
      const d = new FrameDecoder({
        onFrame: () => {},
        onData: (_h, p) => got.push(Buffer.from(p)),
        onDataEnd: () => {},
      });
      d.open(new OpeningKey(key));
      d.push(f);
      return Buffer.concat(got);
    };
    assert.deepEqual(decode(frame), bytes);
    const changedBytes = Buffer.from(frame);
    changedBytes[14]! ^= 1;
    assert.notDeepEqual(decode(changedBytes), bytes, "the receiver's id check is what catches this");
    // Setting BYTES_TAGGED, or any other header change, breaks the tag.
    const tagged = Buffer.from(frame);
    tagged[3]! |= FrameFlags.BYTES_TAGGED;
    assert.throws(() => decode(tagged), isAuth);
    const otherRequest = Buffer.from(frame);
    otherRequest[7]! ^= 1;
    assert.throws(() => decode(otherRequest), isAuth);
  });
});

describe("sealed frames", () => {
  test("any flipped bit of a sealed frame, header included, fails", () => {
    const key = Buffer.alloc(32, 5);
    const frame = (() => {
      const s = new SealingKey(key);
      const header = Buffer.from("020100000000000100000015", "hex");
      return Buffer.concat([header, s.seal(header, Buffer.from("hello"))]);
    })();
    for (let bit = 0; bit < frame.length * 8; bit += 7) {
      const bad = Buffer.from(frame);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      assert.throws(() => new OpeningKey(key).open(bad.subarray(0, 12), bad.subarray(12)), isAuth);
    }
  });

  test("a sealed stream split anywhere decodes to what was sent; a flipped bit breaks it", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            data: fc.boolean(),
            body: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.nat(),
        (frames, cuts, flip) => {
          const key = Buffer.alloc(32, 7);
          const send = new SealingKey(key);
          const wire = Buffer.concat(
            frames.map((f, i) => {
              const type = f.data ? FrameType.DATA : FrameType.RESULT;
              const header = Buffer.alloc(12);
              header[0] = 2;
              header[1] = type;
              header.writeUInt16BE(f.data ? FrameFlags.END | FrameFlags.BYTES_TAGGED : 0, 2);
              header.writeUInt32BE(i + 1, 4);
              header.writeUInt32BE(f.body.length + 16, 8);
              const tail = f.data ? [f.body, send.mac(header, f.body)] : [send.seal(header, f.body)];
              return Buffer.concat([header, ...tail]);
            }),
          );
          const run = (bytes: Buffer) => {
            const seen: Buffer[] = [];
            let pieces: Buffer[] = [];
            const d = new FrameDecoder({
              onFrame: (_h: FrameHeader, body) => seen.push(body),
              onData: (_h, p) => pieces.push(Buffer.from(p)),
              onDataEnd: () => {
                seen.push(Buffer.concat(pieces));
                pieces = [];
              },
            });
            d.open(new OpeningKey(key));
            const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
            let at = 0;
            for (const p of [...points, bytes.length]) {
              d.push(bytes.subarray(at, p));
              at = p;
            }
            return { seen, truncated: d.midFrame };
          };
          assert.deepEqual(run(wire), { seen: frames.map((f) => f.body), truncated: false });
          const bad = Buffer.from(wire);
          const i = flip % bad.length;
          bad[i]! ^= 0x40;
          // A changed length field may leave the stream cut mid-frame instead (a close, then).
          let failed = false;
          try {
            failed = run(bad).truncated;
          } catch (err) {
            failed = isDfsError(err);
          }
          assert.ok(failed, `flipping byte ${i} went unnoticed`);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("the handshake", () => {
  test("both sides derive the same keys, one per direction, and learn each other", () => {
    const { client, server } = handshake(trustFor("gateway", "gw-a"), trustFor("node", "node-x"), "node-x");
    assert.deepEqual(client.peer, { role: "node", id: "node-x" });
    assert.deepEqual(server.peer, { role: "gateway", id: "gw-a" });
    const header = Buffer.from("020100000000000100000010", "hex");
    const sealedByClient = client.keys.send.seal(header, Buffer.alloc(0));
    assert.equal(server.keys.receive.open(header, sealedByClient).length, 0);
    // Reflected back to the client, the server's own frame does not open.
    const sealedByServer = server.keys.send.seal(header, Buffer.alloc(0));
    assert.throws(() => server.keys.receive.open(header, sealedByServer), isAuth);
    assert.equal(client.keys.receive.open(header, sealedByServer).length, 0);
  });

  test("a server whose credential is not the expected node's gets no session", () => {
    assert.throws(
      () => handshake(trustFor("gateway", "gw-a"), trustFor("node", "node-y"), "node-x"),
      (e) => isAuth(e) && /node-y.*expected "node-x"/.test((e as Error).message),
    );
  });

  test("a server with a gateway credential is not a node", () => {
    assert.throws(() => handshake(trustFor("gateway", "gw-a"), trustFor("gateway", "node-x")), isAuth);
  });

  test("a credential from another authority is refused, either side", () => {
    const foreign = { authority: Buffer.alloc(32, 66) };
    assert.throws(() => handshake(trustFor("gateway", "g", foreign), trustFor("node", "n")), isAuth);
    // The node's anchor is ours; a client from elsewhere:
    const node = trustFor("node", "n");
    const stranger = trustFor("gateway", "g", foreign);
    const c = new ClientHandshake({ ...stranger, anchor: node.anchor }, "n");
    const s = new ServerHandshake(node);
    const auth = c.onServerHello(s.onHello(c.helloBody()), "test");
    assert.throws(() => s.onAuth(auth), isAuth);
  });

  test("an expired credential is refused", () => {
    let now = Date.now();
    const clock = () => now;
    const client = trustFor("gateway", "g", { now: clock, lifetimeMs: 60_000 });
    const server = trustFor("node", "n", { now: clock, lifetimeMs: 3_600_000 });
    handshake(client, server);
    now += 120_000;
    assert.throws(
      () => handshake(client, server),
      (e) => isAuth(e) && /expired/.test((e as Error).message),
    );
  });

  test("a different cluster secret gives different keys", () => {
    const { client, server } = handshake(
      trustFor("gateway", "g", { secret: "one-secret-0123456789" }),
      trustFor("node", "n", { secret: "another-secret-012345" }),
    );
    const header = Buffer.from("020100000000000100000010", "hex");
    assert.throws(
      () => server.keys.receive.open(header, client.keys.send.seal(header, Buffer.alloc(0))),
      isAuth,
    );
  });

  test("a signature from another transcript does not verify (no splicing of sessions)", () => {
    const client = trustFor("gateway", "g");
    const server = trustFor("node", "n");
    const c1 = new ClientHandshake(client, "n");
    const s1 = new ServerHandshake(server);
    const hello1 = s1.onHello(c1.helloBody());
    const c2 = new ClientHandshake(client, "n");
    // The first handshake's SERVER_HELLO, answered to a client that sent another HELLO:
    assert.throws(() => c2.onServerHello(hello1, "test"), isAuth);
  });
});

describe("strangers", () => {
  test("a full source evicts its own oldest, not other sources", () => {
    const s = new Strangers<string>(2, 100);
    assert.deepEqual(s.add("127.0.0.2", "a1"), []);
    assert.deepEqual(s.add("127.0.0.1", "gw"), []);
    assert.deepEqual(s.add("127.0.0.2", "a2"), []);
    assert.deepEqual(s.add("127.0.0.2", "a3"), ["a1"]);
    assert.deepEqual(s.add("::ffff:127.0.0.2", "a4"), ["a2"]);
    assert.equal(s.size, 3);
    s.remove("gw");
    assert.equal(s.size, 2);
  });

  test("over the total cap the oldest of all goes", () => {
    const s = new Strangers<number>(10, 3);
    for (let i = 0; i < 3; i++) s.add(`10.0.0.${i}`, i);
    assert.deepEqual(s.add("10.0.0.9", 9), [0]);
  });

  test("an IPv6 source is its /64", () => {
    assert.equal(sourceOf("2001:db8:1:2::5"), sourceOf("2001:db8:1:2:ffff::1"));
    assert.notEqual(sourceOf("2001:db8:1:2::5"), sourceOf("2001:db8:1:3::5"));
    assert.equal(sourceOf("::ffff:10.1.2.3"), "10.1.2.3");
  });
});
