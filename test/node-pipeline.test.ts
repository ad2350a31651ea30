import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { type NodeProc, nodesForSuite } from "./helpers/cluster.ts";
import { patternBytes, readAll, sha256 } from "./helpers/data.ts";
import { writesInProgress } from "./helpers/store.ts";

/**
 * The node's pooled memory under load: pieces live in recycled slabs and GET buffers, so a slab
 * or buffer reused too early would corrupt bytes. Many requests at once, each checked byte for
 * byte on every replica.
 */

const MiB = 1024 * 1024;

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe("pooled memory on the node under concurrent requests", () => {
  const { nodes, client } = nodesForSuite(3);

  test("32 chain PUTs at once land intact on all three nodes", async () => {
    const [a, b, c] = nodes as [NodeProc, NodeProc, NodeProc];
    const blobs = Array.from({ length: 32 }, (_, i) => patternBytes(MiB + 4093 * i, 500 + i));
    await inParallel(blobs, 12, async (data) => {
      const result = await client.put(a.addr, sha256(data), data, data.length, { forward: [b.addr, c.addr] });
      assert.deepEqual(result, { stored: [a.addr, b.addr, c.addr], failed: [] });
    });
    for (const n of nodes) {
      await inParallel(blobs, 8, async (data) => {
        const back = await client.getBuffer(n.addr, sha256(data));
        assert.equal(sha256(back), sha256(data), `${n.addr} holds other bytes`);
      });
    }
  });

  test("GETs of different objects at once each stream their own bytes", async () => {
    const addr = nodes[1]!.addr;
    const blobs = Array.from({ length: 6 }, (_, i) => patternBytes(2 * MiB + 777 * i, 900 + i));
    for (const data of blobs) await client.put(addr, sha256(data), data, data.length);
    const reads = Array.from({ length: 30 }, (_, i) => blobs[i % blobs.length]!);
    await inParallel(reads, 16, async (data) => {
      const got = await client.get(addr, sha256(data));
      assert.equal(sha256(await readAll(got.body)), sha256(data));
    });
  });

  test("a PUT cancelled mid-stream through a chain leaves nothing on any node", async () => {
    const [a, b, c] = nodes as [NodeProc, NodeProc, NodeProc];
    const data = patternBytes(16 * MiB, 77);
    const id = sha256(data);
    const abort = new AbortController();
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= 4 * MiB) {
          abort.abort();
          return;
        }
        this.push(data.subarray(sent, sent + 256 * 1024));
        sent += 256 * 1024;
      },
    });
    await assert.rejects(
      client.put(a.addr, id, source, data.length, { forward: [b.addr, c.addr], signal: abort.signal }),
      (e) => isDfsError(e, "DFS_ERR_CANCELLED"),
    );
    for (const n of nodes) {
      const deadline = Date.now() + 5000;
      while ((await writesInProgress(n.dataDir)).length > 0) {
        assert.ok(Date.now() < deadline, `${n.addr} kept a temp file`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(await client.has(n.addr, [id]), [false]);
    }
  });

  test("regression: a chain PUT cancelled at any moment never brings a node down", async () => {
    // A cancel that arrives while the first node is still opening its file must not leave the
    // forward's answer rejected with no handler yet: an unhandled rejection would end the node.
    for (let i = 0; i < 40; i++) {
      const data = patternBytes(256 * 1024 + i * 1000, 3000 + i);
      const [head, ...forward] = [0, 1, 2].map((k) => nodes[(i + k) % 3]!.addr) as [string, ...string[]];
      const abort = new AbortController();
      const put = client.put(head, sha256(data), data, data.length, { forward, signal: abort.signal });
      if (i % 4 === 0) abort.abort();
      else if (i % 4 === 1) queueMicrotask(() => abort.abort());
      else if (i % 4 === 2) setTimeout(() => abort.abort(), i % 7);
      await put.catch((e: unknown) => assert.ok(isDfsError(e, "DFS_ERR_CANCELLED"), String(e)));
    }
    for (const n of nodes) assert.equal((await client.ping(n.addr)).nodeId, n.nodeId);
  });
});
