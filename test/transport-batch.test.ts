import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { DfsError } from "../src/errors.ts";
import {
  EMPTY,
  ErrorMsg,
  FrameDecoder,
  FrameFlags,
  FrameType,
  HasReq,
  OpeningKey,
  SealingKey,
} from "../src/protocol/index.ts";
import { FrameSocket } from "../src/transport/frame-socket.ts";
import { GatheredData } from "../src/transport/gathered-data.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";

const KEY = Buffer.alloc(32, 21);

interface Seen {
  type: number;
  requestId: number;
  flags: number;
  body: Buffer;
}

/** The receiving end, on a plain socket: every byte as it came, and the frames opened under KEY. */
class Receiver {
  readonly bytes: Buffer[] = [];
  readonly frames: Seen[] = [];
  #pieces: Buffer[] = [];
  readonly #decoder: FrameDecoder;

  constructor(socket: Socket) {
    this.#decoder = new FrameDecoder({
      onFrame: (h, body) => this.frames.push({ type: h.type, requestId: h.requestId, flags: h.flags, body }),
      onData: (_h, piece) => this.#pieces.push(Buffer.from(piece)),
      onDataEnd: (h) => {
        this.frames.push({
          type: h.type,
          requestId: h.requestId,
          flags: h.flags,
          body: Buffer.concat(this.#pieces),
        });
        this.#pieces = [];
      },
    });
    this.#decoder.open(new OpeningKey(KEY));
    socket.on("data", (chunk: Buffer) => {
      this.bytes.push(Buffer.from(chunk));
      this.#decoder.push(chunk);
    });
  }

  /** The frames as they crossed the wire: type and flags of each sealed frame, in order. */
  wire(): { type: number; flags: number; length: number }[] {
    const all = Buffer.concat(this.bytes);
    const out: { type: number; flags: number; length: number }[] = [];
    for (let pos = 0; pos + 12 <= all.length; ) {
      const length = all.readUInt32BE(pos + 8);
      out.push({ type: all[pos + 1]!, flags: all.readUInt16BE(pos + 2), length });
      pos += 12 + length;
    }
    return out;
  }

  async waitFor(n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.frames.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(this.frames.length, n, "frames received");
  }
}

describe("FrameSocket on a sealed link: one BATCH per flush for small frames", () => {
  let server: Server;
  const accepted: Socket[] = [];

  before(async () => {
    server = createServer((s) => accepted.push(s));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
  });

  after(() => {
    for (const s of accepted) s.destroy();
    server.close();
  });

  /** A sealed FrameSocket sending to a fresh Receiver. */
  async function pair(): Promise<{ fs: FrameSocket; rx: Receiver }> {
    const { port } = server.address() as { port: number };
    const socket = connect({ host: "127.0.0.1", port });
    await once(socket, "connect");
    while (accepted.length === 0) await new Promise((r) => setImmediate(r));
    const rx = new Receiver(accepted.shift()!);
    const fs = new FrameSocket(socket, { onFrame() {}, onData() {}, onDataEnd() {} });
    fs.secure({ send: new SealingKey(KEY), receive: new OpeningKey(Buffer.alloc(32, 22)) });
    return { fs, rx };
  }

  test("small frames of one turn go as one BATCH; a chunk's pieces go alone, in their place", async () => {
    const { fs, rx } = await pair();
    const small = patternBytes(5000, 1);
    const chunk = patternBytes(300 * 1024, 2);
    const has = HasReq.encode("chunk", [sha256(chunk)]);
    const written: string[] = [];
    // All in one turn, as the requests of several HTTP requests parsed together are.
    fs.send(FrameType.PING, 1);
    fs.send(FrameType.HAS, 2, has);
    fs.sendData(3, small, true, () => written.push("small"));
    fs.sendData(4, chunk, true, () => written.push("chunk"), true);
    fs.send(FrameType.PING, 5);
    fs.sendData(6, EMPTY, true);
    // The chunk (300 KiB) is cut into frames of at most 256 KiB, each reported on its own.
    await rx.waitFor(7);
    assert.deepEqual(
      rx.frames.map((f) => [f.type, f.requestId, f.flags, f.body.length]),
      [
        [FrameType.PING, 1, 0, 0],
        [FrameType.HAS, 2, 0, has.length],
        [FrameType.DATA, 3, FrameFlags.END, small.length],
        [FrameType.DATA, 4, 0, 256 * 1024],
        [FrameType.DATA, 4, FrameFlags.END, 44 * 1024],
        [FrameType.PING, 5, 0, 0],
        [FrameType.DATA, 6, FrameFlags.END, 0],
      ],
    );
    assert.ok(rx.frames[2]!.body.equals(small));
    assert.ok(Buffer.concat([rx.frames[3]!.body, rx.frames[4]!.body]).equals(chunk));
    // On the wire: one BATCH, the chunk's two frames (tags over their headers only), one BATCH.
    assert.deepEqual(
      rx.wire().map((w) => [w.type, w.flags]),
      [
        [FrameType.BATCH, 0],
        [FrameType.DATA, 0],
        [FrameType.DATA, FrameFlags.END],
        [FrameType.BATCH, 0],
      ],
    );
    assert.deepEqual(written.sort(), ["chunk", "small"]);
    fs.close();
  });

  test("a flush's lone small frame goes as itself; a lone DATA frame with its bytes tagged", async () => {
    const { fs, rx } = await pair();
    fs.send(FrameType.PING, 1);
    await rx.waitFor(1);
    const body = patternBytes(3000, 3);
    let written = false;
    fs.sendData(2, body, true, () => {
      written = true;
    });
    await rx.waitFor(2);
    assert.ok(rx.frames[1]!.body.equals(body));
    assert.deepEqual(
      rx.wire().map((w) => [w.type, w.flags]),
      [
        [FrameType.PING, 0],
        [FrameType.DATA, FrameFlags.END | FrameFlags.BYTES_TAGGED],
      ],
    );
    assert.ok(written);
    fs.close();
  });

  test("a forwarded stream's pieces are gathered into frames of 256 KiB, each piece sent from where it lies", async () => {
    const { fs, rx } = await pair();
    const whole = new GatheredData(fs, 1, true, () => true);
    const tagged = new GatheredData(fs, 2, false, () => true);
    const pieces = Array.from({ length: 5 }, (_, i) => patternBytes(64 * 1024, 10 + i));
    const written: number[] = [];
    pieces.forEach((p, i) => {
      whole.write(p, () => written.push(i));
    });
    whole.flush(true);
    tagged.write(pieces[0]!);
    // A piece alone goes after HOLD_MS, without waiting for more.
    await rx.waitFor(3);
    tagged.flush(true);
    await rx.waitFor(4);
    assert.deepEqual(
      rx.frames.map((f) => [f.requestId, f.flags & FrameFlags.END, f.body.length]),
      [
        [1, 0, 256 * 1024],
        [1, FrameFlags.END, 64 * 1024],
        [2, 0, 64 * 1024],
        [2, FrameFlags.END, 0],
      ],
    );
    assert.ok(Buffer.concat([rx.frames[0]!.body, rx.frames[1]!.body]).equals(Buffer.concat(pieces)));
    // The whole chunk's tags cover their headers; the other stream's, its bytes too (they checked).
    assert.deepEqual(
      rx.wire().map((w) => [w.type, w.flags & FrameFlags.BYTES_TAGGED]),
      [
        [FrameType.DATA, 0],
        [FrameType.DATA, 0],
        [FrameType.DATA, FrameFlags.BYTES_TAGGED],
        [FrameType.DATA, FrameFlags.BYTES_TAGGED],
      ],
    );
    assert.deepEqual(written, [0, 1, 2, 3, 4]);
    fs.close();
  });

  test("READY goes alone, whatever else the turn sends", async () => {
    const { fs, rx } = await pair();
    fs.send(FrameType.READY, 0);
    fs.send(FrameType.PING, 1);
    fs.send(FrameType.PING, 2);
    await rx.waitFor(3);
    assert.deepEqual(
      rx.wire().map((w) => [w.type, w.length]),
      [
        [FrameType.READY, 16],
        [FrameType.BATCH, 4 + 2 * 12 + 16],
      ],
    );
    fs.close();
  });

  test("fail() sends the frames waiting for the flush, then its ERROR, before it closes", async () => {
    const { fs, rx } = await pair();
    fs.send(FrameType.PING, 7);
    fs.fail(new DfsError("DFS_ERR_PROTOCOL", "bye"));
    await rx.waitFor(2);
    assert.deepEqual(
      rx.frames.map((f) => [f.type, f.requestId]),
      [
        [FrameType.PING, 7],
        [FrameType.ERROR, 0],
      ],
    );
    assert.equal(ErrorMsg.decode(rx.frames[1]!.body).code, "DFS_ERR_PROTOCOL");
    assert.deepEqual(
      rx.wire().map((w) => w.type),
      [FrameType.BATCH],
    );
  });
});
