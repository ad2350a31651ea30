import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { SentPieces } from "../src/gateway/download/sent-pieces.ts";
import { freedAfterUse, freeNow } from "../src/memory.ts";

const freed = (b: Uint8Array) => b.buffer instanceof ArrayBuffer && b.buffer.detached && b.length === 0;

describe("freeNow", () => {
  test("frees a buffer that is the whole of its own memory: a cipher's output, a lone allocation", () => {
    const cipher = createCipheriv("aes-256-gcm", randomBytes(32), randomBytes(12));
    const out = cipher.update(randomBytes(64 * 1024));
    assert.equal(out.length, 64 * 1024);
    freeNow(out);
    assert.ok(freed(out));
    const lone = Buffer.allocUnsafeSlow(4096);
    freeNow(lone);
    assert.ok(freed(lone));
    freeNow(lone); // twice: nothing left to do, no error
  });

  test("leaves views of shared memory alone: a slice, a pooled small Buffer, a SharedArrayBuffer", () => {
    const whole = Buffer.alloc(1024, 7);
    const part = whole.subarray(0, 512);
    freeNow(part);
    assert.equal(part.length, 512);
    assert.equal(whole.length, 1024);
    assert.ok(whole.every((b) => b === 7));

    const pooledA = Buffer.from("first"); // both from Node's shared 8 KiB pool
    const pooledB = Buffer.from("second");
    freeNow(pooledA);
    assert.equal(pooledA.toString(), "first");
    assert.equal(pooledB.toString(), "second");

    const shared = Buffer.from(new SharedArrayBuffer(64));
    freeNow(shared);
    assert.equal(shared.length, 64);
  });
});

describe("freedAfterUse", () => {
  async function* fresh(n: number): AsyncGenerator<Buffer> {
    for (let i = 0; i < n; i++) yield Buffer.alloc(8192, i + 1);
  }

  test("frees each piece when the reader asks for the next one, and the last when it is done", async () => {
    const seen: Buffer[] = [];
    for await (const piece of freedAfterUse(fresh(3))) {
      const i = seen.length;
      assert.ok(
        piece.every((b) => b === i + 1),
        "the reader gets the bytes intact",
      );
      if (i > 0) assert.ok(freed(seen[i - 1]!), "the previous piece is freed");
      seen.push(piece);
    }
    assert.equal(seen.length, 3);
    assert.ok(seen.every(freed));
  });

  test("a reader that stops early frees the piece it holds; no further piece is made", async () => {
    const seen: Buffer[] = [];
    for await (const piece of freedAfterUse(fresh(5))) {
      seen.push(piece);
      if (seen.length === 2) break;
    }
    assert.equal(seen.length, 2);
    assert.ok(seen.every(freed));
  });
});

describe("SentPieces, over a real HTTP response", () => {
  const PIECES = 24;
  const PIECE_BYTES = 1024 * 1024;
  const pattern = (i: number) => Buffer.alloc(PIECE_BYTES, (i * 37 + 11) & 0xff);

  /**
   * A server whose one response sends PIECES fresh 1 MiB pieces the way a /v1 download does
   * (through a body stream piped to the response) or, `direct`, the way the S3 listener's
   * sendStream does (res.write, waiting for "drain").
   */
  async function serve(direct = false): Promise<{
    server: Server;
    url: string;
    sent: Promise<{ pieces: Buffer[]; tracker: SentPieces; res: ServerResponse }>;
  }> {
    let resolve!: (v: { pieces: Buffer[]; tracker: SentPieces; res: ServerResponse }) => void;
    const sent = new Promise<{ pieces: Buffer[]; tracker: SentPieces; res: ServerResponse }>((r) => {
      resolve = r;
    });
    const server = createServer((_req, res) => {
      const pieces: Buffer[] = [];
      if (direct) {
        const tracker = new SentPieces(undefined, res);
        res.setHeader("content-length", String(PIECES * PIECE_BYTES));
        resolve({ pieces, tracker, res });
        void (async () => {
          for (let i = 0; i < PIECES && !res.destroyed; i++) {
            tracker.freeWritten();
            const piece = pattern(i);
            pieces.push(piece);
            const flowing = res.write(piece);
            tracker.add(piece);
            if (!flowing) await Promise.race([once(res, "drain"), once(res, "close")]);
          }
          res.end();
        })();
        return;
      }
      async function* all(): AsyncGenerator<Buffer> {
        for (let i = 0; i < PIECES; i++) {
          tracker.freeWritten();
          const piece = pattern(i);
          pieces.push(piece);
          yield piece;
          tracker.add(piece);
        }
      }
      const body = Readable.from(all(), { objectMode: false });
      const tracker = new SentPieces(body, res);
      res.setHeader("content-length", String(PIECES * PIECE_BYTES));
      body.pipe(res);
      resolve({ pieces, tracker, res });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    return { server, url: `http://127.0.0.1:${port}/`, sent };
  }

  async function stalled(state: { pieces: Buffer[] }): Promise<void> {
    // The client reads nothing: the server stops making pieces once the socket is full.
    let count = -1;
    for (let i = 0; i < 100 && state.pieces.length !== count; i++) {
      count = state.pieces.length;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // A piece freed too early is written as nothing: the client would wait for the missing bytes.
  const opts = { timeout: 30_000 };

  for (const direct of [false, true]) {
    test(
      `frees nothing the response may still write; every byte arrives intact; all freed at the end (${direct ? "res.write" : "a body stream"})`,
      opts,
      async () => {
        const { server, url, sent } = await serve(direct);
        try {
          const response = await new Promise<IncomingMessage>((r) => get(url, r));
          response.pause();
          const state = await sent;
          await stalled(state);
          assert.ok(state.pieces.length < PIECES, "the response is held up by the paused client");
          assert.ok(state.res.writableLength > 0, "bytes are waiting in the response");
          state.tracker.freeWritten();
          const last = state.pieces.at(-1)!;
          assert.ok(!freed(last), "the newest piece, still queued, is not freed");

          const hash = createHash("sha256");
          let bytes = 0;
          response.on("data", (d: Buffer) => {
            hash.update(d);
            bytes += d.length;
          });
          response.resume();
          await once(response, "end");
          const expected = createHash("sha256");
          for (let i = 0; i < PIECES; i++) expected.update(pattern(i));
          assert.equal(bytes, PIECES * PIECE_BYTES);
          assert.equal(
            hash.digest("hex"),
            expected.digest("hex"),
            "no piece was freed before it was written",
          );
          if (!state.res.writableFinished) await once(state.res, "finish");
          assert.equal(
            state.pieces.filter(freed).length,
            PIECES,
            "every piece is freed once the response finished",
          );
        } finally {
          server.closeAllConnections();
          server.close();
        }
      },
    );
  }

  test("a response closed early (the client went away) frees nothing more", opts, async () => {
    const { server, url, sent } = await serve();
    try {
      const request = get(url);
      const response = (await once(request, "response"))[0] as IncomingMessage;
      response.pause();
      const state = await sent;
      await stalled(state);
      const before = state.pieces.filter(freed).length;
      request.destroy();
      await once(state.res, "close");
      state.tracker.freeWritten();
      assert.equal(state.pieces.filter(freed).length, before, "no piece freed after an unfinished close");
      assert.ok(!freed(state.pieces.at(-1)!));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
