import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { FrameType, GetReq, HasReq, HasRes } from "../src/protocol/index.ts";
import type { ClientConnection, Reply } from "../src/transport/connection.ts";
import { DEFAULT_TIMEOUTS, NodeClient } from "../src/transport/index.ts";
import { ConnectionPool } from "../src/transport/pool.ts";
import { type NodeProc, nodesForSuite, startNode, testTrust } from "./helpers/cluster.ts";
import { patternBytes, readAll, sha256, streamOf } from "./helpers/data.ts";
import { writesInProgress } from "./helpers/store.ts";

const MiB = 1024 * 1024;

describe("storage node over the node protocol", () => {
  const { nodes, client, dir } = nodesForSuite(3);

  for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 64 * MiB]) {
    test(`round-trips ${size} bytes`, async () => {
      const data = patternBytes(size, size + 7);
      const id = sha256(data);
      const source = size > MiB ? streamOf(data) : data;
      const result = await client.put(nodes[0]!.addr, id, source, size);
      assert.deepEqual(result, { stored: [nodes[0]!.addr], failed: [] });
      const got = await client.get(nodes[0]!.addr, id);
      assert.equal(got.size, size);
      const back = await readAll(got.body);
      assert.equal(back.length, size);
      assert.ok(back.equals(data), "bytes differ");
    });
  }

  test("ranges: start, middle, end, empty, and out of range", async () => {
    const data = patternBytes(3 * MiB + 5, 42);
    const id = sha256(data);
    await client.put(nodes[1]!.addr, id, data, data.length);
    const ranges: [number, number | undefined][] = [
      [0, 10],
      [MiB - 3, 7],
      [data.length - 9, undefined],
      [2 * MiB, MiB],
      [100, 0],
    ];
    for (const [offset, length] of ranges) {
      const got = await client.get(nodes[1]!.addr, id, {
        offset,
        ...(length === undefined ? {} : { length }),
      });
      const expected = data.subarray(offset, length === undefined ? undefined : offset + length);
      assert.ok((await readAll(got.body)).equals(expected), `range ${offset}+${length}`);
    }
    await assert.rejects(client.get(nodes[1]!.addr, id, { offset: data.length + 1 }), (e) =>
      isDfsError(e, "DFS_ERR_RANGE"),
    );
    await assert.rejects(client.get(nodes[1]!.addr, id, { offset: 10, length: data.length }), (e) =>
      isDfsError(e, "DFS_ERR_RANGE"),
    );
  });

  test("chain replication: one PUT with a forward list stores on all three", async () => {
    const data = patternBytes(5 * MiB + 3, 99);
    const id = sha256(data);
    const [a, b, c] = nodes as [NodeProc, NodeProc, NodeProc];
    const result = await client.put(a.addr, id, streamOf(data), data.length, { forward: [b.addr, c.addr] });
    assert.deepEqual(result, { stored: [a.addr, b.addr, c.addr], failed: [] });
    for (const n of nodes) {
      assert.deepEqual(await client.has(n.addr, [id]), [true]);
      assert.ok((await client.getBuffer(n.addr, id)).equals(data));
    }
  });

  test("bytes that do not match their id are refused and nothing is visible", async () => {
    const data = patternBytes(2 * MiB, 3);
    const wrongId = sha256(Buffer.from("something else"));
    const [a, b] = nodes as [NodeProc, NodeProc];
    await assert.rejects(
      client.put(a.addr, wrongId, streamOf(data), data.length, { forward: [b.addr] }),
      (e) => isDfsError(e, "DFS_ERR_HASH_MISMATCH"),
    );
    assert.deepEqual(await client.has(a.addr, [wrongId]), [false]);
    assert.deepEqual(await client.has(b.addr, [wrongId]), [false]);
    assert.deepEqual(await writesInProgress(a.dataDir), []);
  });

  test("manifests carry a checksum; a wrong one is refused", async () => {
    const body = Buffer.from("sealed manifest bytes");
    const id = sha256(Buffer.from("any keyed id"));
    await assert.rejects(
      client.put(nodes[0]!.addr, id, body, body.length, {
        kind: "manifest",
        checksum: sha256(Buffer.from("x")),
      }),
      (e) => isDfsError(e, "DFS_ERR_HASH_MISMATCH"),
    );
    await client.put(nodes[0]!.addr, id, body, body.length, { kind: "manifest", checksum: sha256(body) });
    assert.ok((await client.getBuffer(nodes[0]!.addr, id, { kind: "manifest" })).equals(body));
    assert.deepEqual(await client.has(nodes[0]!.addr, [id], "chunk"), [false]);
  });

  test("has, list, stat and ping", async () => {
    const addr = nodes[2]!.addr;
    const blobs = [1, 2, 3].map((i) => patternBytes(1000 + i, 1000 + i));
    const ids = blobs.map(sha256);
    for (const [i, b] of blobs.entries()) await client.put(addr, ids[i]!, b, b.length);
    const missing = sha256(Buffer.from("missing"));
    assert.deepEqual(await client.has(addr, [...ids, missing]), [true, true, true, false]);

    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await client.list(addr, { limit: 2, ...(after ? { after } : {}) });
      assert.ok(page.ids.length <= 2);
      seen.push(...page.ids);
      after = page.next;
    } while (after);
    for (const id of ids) assert.ok(seen.includes(id));
    assert.deepEqual(seen, [...seen].sort());

    const stat = await client.stat(addr);
    assert.equal(stat.nodeId, nodes[2]!.nodeId);
    assert.ok(stat.chunkCount >= 3);
    assert.ok(stat.freeBytes > 0 && stat.capacityBytes >= stat.freeBytes);

    assert.equal((await client.ping(addr)).nodeId, nodes[2]!.nodeId);
  });

  test("small requests sent in one turn share one connection and each gets its own answer", async () => {
    const addr = nodes[1]!.addr;
    const blobs = [0, 1, 2, 3].map((i) => patternBytes(100 + i, 300 + i));
    const stored = blobs.map(sha256);
    for (const [i, b] of blobs.entries()) await client.put(addr, stored[i]!, b, b.length);
    const pool = new ConnectionPool(testTrust(), () => undefined, DEFAULT_TIMEOUTS);
    try {
      // A bulk request holds a connection: small requests must not be kept waiting behind it.
      const bulk = await pool.acquire(addr);
      const held = bulk.request(
        FrameType.GET,
        GetReq.encode({ kind: "chunk", id: stored[0]!, offset: 0, length: undefined }),
        { stream: true },
      );
      const ids = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? stored[i % 4]! : sha256(Buffer.of(i))));
      // As a gateway does: each request acquires and sends in turn, with only microtasks between.
      const conns: ClientConnection[] = [];
      const answers: Promise<Reply>[] = [];
      for (const id of ids) {
        const c = await pool.acquire(addr, true);
        conns.push(c);
        answers.push(c.request(FrameType.HAS, HasReq.encode("chunk", [id]), { small: true }));
      }
      const first = conns[0]!;
      assert.notEqual(first, bulk, "a small request took the connection a bulk one holds");
      assert.ok(
        conns.every((c) => c === first),
        "requests sent in one turn were spread over several connections",
      );
      assert.equal(first.joinable, true, "the frames are held for one flush");
      const got = (await Promise.all(answers)).map((r) => HasRes.decode(r.payload)[0]);
      assert.deepEqual(
        got,
        ids.map((_, i) => i % 2 === 0),
      );
      assert.equal(first.joinable, false);
      assert.equal(pool.connections(addr), 2);
      (await held).stream!.resume();
    } finally {
      await pool.close();
    }
  });

  test("a client with the wrong cluster secret gets no session (the keys differ)", async () => {
    const stranger = new NodeClient({
      trust: { ...testTrust(), secret: Buffer.from("not-the-cluster-secret!!") },
    });
    try {
      await assert.rejects(stranger.ping(nodes[0]!.addr), (e) => isDfsError(e, "DFS_ERR_AUTH"));
    } finally {
      await stranger.close();
    }
  });

  test("a node SIGKILLed in the middle of a PUT leaves no partial chunk and restarts clean", async () => {
    const victim = await startNode({ dataDir: join(dir.path, "victim") });
    const data = patternBytes(32 * MiB, 77);
    const id = sha256(data);
    let sent = 0;
    const slow = streamOf(data, 256 * 1024);
    slow.on("data", (piece: Buffer) => {
      sent += piece.length;
      if (sent >= 8 * MiB && sent - piece.length < 8 * MiB) void victim.stop("SIGKILL");
    });
    await assert.rejects(client.put(victim.addr, id, slow, data.length));
    const restarted = await startNode({ dataDir: victim.dataDir });
    try {
      assert.equal(restarted.nodeId, victim.nodeId, "node id survives a restart");
      assert.deepEqual(await client.has(restarted.addr, [id]), [false]);
      assert.deepEqual(await writesInProgress(victim.dataDir), []);
      await client.put(restarted.addr, id, streamOf(data), data.length);
      assert.ok((await client.getBuffer(restarted.addr, id)).equals(data));
    } finally {
      await restarted.stop("SIGKILL");
    }
  });
});
