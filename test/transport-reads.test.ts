import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { SlabPool } from "../src/transport/slabs.ts";
import { installUserBuffer, onreadOption, userBufferReadsAvailable } from "../src/transport/socket-reads.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";

const MiB = 1024 * 1024;

/** A server whose first accepted socket is handed to `onSocket`; resolves with its port. */
async function serveOnce(onSocket: (s: Socket) => void): Promise<{ port: number; close: () => void }> {
  const server = createServer(onSocket);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return { port: address.port, close: () => server.close() };
}

test("this Node lets accepted sockets read into the shared buffer (the fast path is active)", async () => {
  assert.equal(userBufferReadsAvailable(), true, "Node internals changed: socket-reads.ts falls back");
  const data = patternBytes(3 * MiB + 123, 5);
  const hash = createHash("sha256");
  let received = 0;
  let dataEvents = 0;
  let installed = false;
  const done = new Promise<void>((resolve) => {
    void serveOnce((socket) => {
      installed = installUserBuffer(socket, (chunk) => {
        // A view of the shared buffer: hashed at once, never kept.
        hash.update(chunk);
        received += chunk.length;
      });
      socket.on("data", () => dataEvents++);
      socket.resume();
      socket.on("end", () => {
        socket.end();
        resolve();
      });
    }).then(({ port, close }) => {
      const client = connect({ host: "127.0.0.1", port });
      client.end(data);
      void done.then(close);
    });
  });
  await done;
  assert.equal(installed, true);
  assert.equal(received, data.length);
  assert.equal(hash.digest("hex"), sha256(data));
  assert.equal(dataEvents, 0, "bytes went to the callback, not to 'data' events");
});

test("client sockets read through onread, and pausing stops the callbacks", async () => {
  const data = patternBytes(2 * MiB, 6);
  const { port, close } = await serveOnce((socket) => socket.end(data));
  const hash = createHash("sha256");
  let received = 0;
  let pausedAt = -1;
  let whilePaused = 0;
  const socket = connect({
    host: "127.0.0.1",
    port,
    onread: onreadOption((chunk) => {
      hash.update(chunk);
      received += chunk.length;
      if (socket.isPaused()) whilePaused += chunk.length;
      if (received >= MiB && pausedAt < 0) {
        pausedAt = received;
        socket.pause();
        setTimeout(() => socket.resume(), 100);
      }
    }),
  });
  socket.resume();
  await once(socket, "end");
  close();
  assert.ok(pausedAt >= MiB && pausedAt < data.length, `paused part-way (at ${pausedAt})`);
  assert.equal(whilePaused, 0, "no bytes were delivered while paused");
  assert.equal(received, data.length);
  assert.equal(hash.digest("hex"), sha256(data));
});

test("slab pieces keep their bytes until released; released slabs are reused", () => {
  const pool = new SlabPool();
  const kept = pool.copy(Buffer.alloc(300 * 1024, 1));
  // Fill well past one slab while `kept` is held: its bytes must not change.
  const others = Array.from({ length: 12 }, (_, i) => pool.copy(Buffer.alloc(256 * 1024, 2 + i)));
  assert.ok(kept.bytes.every((b) => b === 1));
  for (const [i, p] of others.entries()) assert.ok(p.bytes.every((b) => b === 2 + i));
  assert.equal(pool.freeSlabs, 0, "nothing released yet");

  for (const p of others) p.release();
  assert.ok(pool.freeSlabs >= 1, "slabs whose pieces are all released go back to the pool");
  const reused = pool.copy(Buffer.alloc(100, 9));
  assert.ok(
    others.some((p) => p.bytes.buffer === reused.bytes.buffer),
    "a new piece lands in a recycled slab",
  );
  assert.ok(
    kept.bytes.every((b) => b === 1),
    "the slab of a held piece is not recycled",
  );
});

test("a piece retained twice survives one release, and releases past zero are ignored", () => {
  const pool = new SlabPool();
  const held = pool.copy(Buffer.alloc(300 * 1024, 7)).retain(); // two holders
  const neighbour = pool.copy(Buffer.alloc(300 * 1024, 6)); // same slab
  held.release(); // the first holder is done; the second still holds it
  neighbour.release();
  neighbour.release(); // one too many: must not count against `held`'s slab
  neighbour.release();
  // Retire that slab and churn through recycled ones: `held` must never be overwritten.
  for (let i = 0; i < 8; i++) pool.copy(Buffer.alloc(700 * 1024, 3)).release();
  assert.ok(
    held.bytes.every((b) => b === 7),
    "a held piece is never overwritten",
  );
  held.release();
  for (let i = 0; i < 8; i++) pool.copy(Buffer.alloc(700 * 1024, 3)).release();
  assert.ok(pool.freeSlabs >= 1);
});
