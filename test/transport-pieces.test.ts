import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { pieces } from "../src/transport/index.ts";

test("pieces() yields each pushed buffer as is, never a concatenation", async () => {
  const parts = [Buffer.from("ab"), Buffer.from("cde"), Buffer.from("f")];
  const stream = new Readable({ read() {} });
  for (const p of parts) stream.push(p);
  stream.push(null);
  const seen: Buffer[] = [];
  for await (const p of pieces(stream)) seen.push(p);
  assert.deepEqual(seen, parts);
  assert.ok(
    seen.every((p, i) => p === parts[i]),
    "the same Buffer objects, not copies",
  );
});

test("regression: a body destroyed before it is read fails the iteration instead of hanging", async () => {
  const stream = new Readable({ read() {} });
  stream.on("error", () => {});
  stream.destroy(new Error("cancelled early"));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(async () => {
    for await (const _ of pieces(stream)) assert.fail("no data expected");
  }, /cancelled early/);

  const closed = new Readable({ read() {} });
  closed.destroy();
  await new Promise((r) => setImmediate(r));
  await assert.rejects(async () => {
    for await (const _ of pieces(closed)) assert.fail("no data expected");
  }, /closed before its end/);
});

test("pieces() pauses a fast producer while the consumer is behind", async () => {
  let produced = 0;
  const stream = new Readable({
    highWaterMark: 4,
    read() {
      produced++;
      this.push(produced > 100 ? null : Buffer.alloc(1024));
    },
  });
  let consumed = 0;
  for await (const _ of pieces(stream)) {
    consumed++;
    if (consumed === 5) {
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(produced - consumed < 20, `producer ran ahead by ${produced - consumed}`);
    }
  }
  assert.equal(consumed, 100);
});
