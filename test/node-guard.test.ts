/**
 * What a peer that knows the cluster secret still cannot make a node do: forward to an address
 * that is not a live member (or to the node itself under another address), learn what a dial
 * said, or hold reserved space with a PUT that stalls or whose peer vanished.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { ErrorCodes, isDfsError } from "../src/errors.ts";
import { FrameType, PutReq } from "../src/protocol/index.ts";
import type { NodeMembership } from "../src/registry/index.ts";
import { type Alias, plainRegistry, registerAs, startAlias } from "./helpers/alias.ts";
import {
  type NodeProc,
  nodesForSuite,
  registryFlags,
  startNode,
  testNodeClient,
  waitForMesh,
} from "./helpers/cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { RawLink } from "./helpers/link.ts";
import { waitFor } from "./helpers/registry.ts";
import { makeTempDir } from "./helpers/tmp.ts";

describe("forward lists name live members only", () => {
  const { nodes, client, dir, redis } = nodesForSuite(3);

  test("an address that is not a member is refused with DFS_ERR_FORWARD_REFUSED, and nothing is dialled", async () => {
    let dialled = 0;
    const victim = createServer((s) => {
      dialled++;
      s.destroy();
    });
    await new Promise<void>((resolve) => victim.listen(0, "127.0.0.1", resolve));
    const victimAddr = `127.0.0.1:${(victim.address() as { port: number }).port}`;
    try {
      const [a, b] = nodes as [NodeProc, NodeProc];
      const data = patternBytes(100_000, 41);
      const id = sha256(data);
      for (const forward of [[victimAddr], [b.addr, victimAddr], ["10.255.255.1:6379"]]) {
        await assert.rejects(client.put(a.addr, id, data, data.length, { forward }), (e) =>
          isDfsError(e, "DFS_ERR_FORWARD_REFUSED"),
        );
      }
      assert.equal(dialled, 0, "the node dialled an address that is not a member");
      for (const n of [a, b]) assert.deepEqual(await client.has(n.addr, [id]), [false]);
    } finally {
      victim.close();
    }
  });

  test("the node itself, or a member twice, in a forward list is refused", async () => {
    const [a, b] = nodes as [NodeProc, NodeProc];
    const data = patternBytes(1000, 42);
    for (const forward of [[a.addr], [b.addr, a.addr], [b.addr, b.addr]]) {
      await assert.rejects(client.put(a.addr, sha256(data), data, data.length, { forward }), (e) =>
        isDfsError(e, "DFS_ERR_FORWARD_REFUSED"),
      );
    }
  });

  test("a member that cannot be reached is reported as 'not reachable', nothing more", async () => {
    const d = await startNode({
      dataDir: join(dir.path, "node-d"),
      ...registryFlags(redis.port, redis.prefix),
    });
    const [a, b] = nodes as [NodeProc, NodeProc];
    try {
      await waitForMesh(client, [a, d]);
    } finally {
      await d.stop("SIGKILL");
    }
    // Its record stays live until its heartbeat key expires (2 s): a member, but gone.
    const data = patternBytes(300_000, 5);
    const result = await client.put(a.addr, sha256(data), data, data.length, { forward: [d.addr, b.addr] });
    assert.deepEqual(result.stored, [a.addr]);
    // A new dial is refused ("not reachable"); a pooled connection to it dies ("connection closed",
    // or "peer unavailable" when it died under a request in flight).
    assert.deepEqual(
      result.failed.map((f) => f.addr),
      [d.addr, b.addr],
    );
    for (const f of result.failed) {
      const said = { code: f.code, message: f.message };
      assert.ok(
        isDeepStrictEqual(said, { code: "DFS_ERR_UNAVAILABLE", message: "not reachable" }) ||
          isDeepStrictEqual(said, { code: "DFS_ERR_CLOSED", message: ErrorCodes.DFS_ERR_CLOSED.message }) ||
          // The pooled connection died with the request in flight: the catalogue's words again.
          isDeepStrictEqual(said, {
            code: "DFS_ERR_UNAVAILABLE",
            message: ErrorCodes.DFS_ERR_UNAVAILABLE.message,
          }),
        JSON.stringify(f),
      );
    }
  });

  describe("a node under a second address", () => {
    let alias: Alias;
    let record: NodeMembership;
    before(async () => {
      alias = await startAlias(nodes[0]!.addr);
      record = await registerAs(plainRegistry(redis.port, redis.prefix), "f".repeat(32), alias.addr);
    });
    after(async () => {
      await record?.close();
      await alias?.close();
    });

    // The alias's record names another id than the node that answers there: the handshake refuses
    // it (the credential is node 0's), so no node gets a session through it, node 0 included.
    test("a forward to an alias registered under another id gets no session: no loop, no relay", async () => {
      const [a, b] = nodes as [NodeProc, NodeProc];
      const data = patternBytes(200_000, 43);
      const id = sha256(data);
      // Until every view lists the alias's record, its address is refused outright.
      const result = await waitFor(
        () =>
          client.put(a.addr, id, data, data.length, { forward: [alias.addr, b.addr] }).catch((e: unknown) => {
            if (isDfsError(e, "DFS_ERR_FORWARD_REFUSED")) return undefined;
            throw e;
          }),
        10_000,
        "the alias's record in a's view",
      );
      assert.deepEqual(result.stored, [a.addr]);
      // What the dial said stays with the node: "not reachable".
      assert.deepEqual(
        result.failed.map((f) => [f.addr, f.code, f.message]),
        [
          [alias.addr, "DFS_ERR_UNAVAILABLE", "not reachable"],
          [b.addr, "DFS_ERR_UNAVAILABLE", "not reachable"],
        ],
      );
      // Through b, too: the alias is not the node its record names, so b gets no session either.
      const other = patternBytes(200_000, 44);
      const through = await waitFor(
        () =>
          client
            .put(b.addr, sha256(other), other, other.length, { forward: [alias.addr] })
            .catch((e: unknown) =>
              isDfsError(e, "DFS_ERR_FORWARD_REFUSED") ? undefined : Promise.reject(e),
            ),
        10_000,
        "the alias's record in b's view",
      );
      assert.deepEqual(through.stored, [b.addr]);
      assert.deepEqual(
        through.failed.map((f) => [f.addr, f.code]),
        [[alias.addr, "DFS_ERR_UNAVAILABLE"]],
      );
      assert.deepEqual(await client.has(a.addr, [sha256(other)]), [false]);
      assert.ok(alias.accepted > 0, "the alias was dialled");
    });
  });
});

test("an unregistered node forwards to nobody", async () => {
  const tmp = await makeTempDir();
  const client = testNodeClient();
  const [a, b] = await Promise.all([
    startNode({ dataDir: join(tmp.path, "a") }),
    startNode({ dataDir: join(tmp.path, "b") }),
  ]);
  try {
    const data = patternBytes(1000, 45);
    await assert.rejects(client.put(a.addr, sha256(data), data, data.length, { forward: [b.addr] }), (e) =>
      isDfsError(e, "DFS_ERR_FORWARD_REFUSED"),
    );
    assert.deepEqual(await client.put(a.addr, sha256(data), data, data.length), {
      stored: [a.addr],
      failed: [],
    });
  } finally {
    await client.close();
    await Promise.all([a.stop("SIGKILL"), b.stop("SIGKILL")]);
    await tmp.remove();
  }
});

/** A raw, authenticated connection to a node; frames written by hand. */
function rawConnection(addr: string): Promise<RawLink> {
  return RawLink.open(addr);
}

describe("space reserved by a PUT is released when its body stalls or its peer vanishes", () => {
  const capacity = 1024 * 1024;
  const size = 800 * 1024; // two do not fit in the capacity at once
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let node: NodeProc;
  const client = testNodeClient();

  before(async () => {
    tmp = await makeTempDir();
    node = await startNode({
      dataDir: join(tmp.path, "n"),
      env: { DFS_CAPACITY: String(capacity), DFS_PUT_STALL_MS: "500", DFS_FSYNC: "false" },
    });
  });
  after(async () => {
    await client.close();
    await node?.stop("SIGKILL");
    await tmp?.remove();
  });

  /** Opens a PUT of `size` bytes on a raw connection and sends its first 64 KiB only. */
  async function stalledPut(seed: number, on: NodeProc = node) {
    const raw = await rawConnection(on.addr);
    const data = patternBytes(size, seed);
    raw.send(
      FrameType.PUT,
      1,
      PutReq.encode({ kind: "chunk", id: sha256(data), size, checksum: undefined, forward: [] }),
    );
    raw.sendData(1, data.subarray(0, 64 * 1024), false);
    return raw;
  }

  /**
   * Whether `size` more bytes fit now. Probes with bytes that do not match their id, so nothing is
   * stored: DFS_ERR_DISK_FULL (checked first) means no, DFS_ERR_HASH_MISMATCH yes.
   */
  async function fits(on: NodeProc = node): Promise<boolean> {
    const data = patternBytes(size, 50);
    return client.put(on.addr, sha256(Buffer.from("other")), data, size).then(
      () => assert.fail("a probe was stored"),
      (e: unknown) => {
        if (isDfsError(e, "DFS_ERR_DISK_FULL")) return false;
        if (isDfsError(e, "DFS_ERR_HASH_MISMATCH")) return true;

        throw e;
      },
    );
  }

  test("a stalled PUT fails with DFS_ERR_TIMEOUT after put-stall-ms and its space is free again", async () => {
    const raw = await stalledPut(51);
    try {
      // Wait until the node holds the reservation (the next PUT does not fit), then until it lets go.
      await waitFor(async () => !(await fits()), 5000, "the stalled PUT's reservation");
      await waitFor(
        () => raw.frames.find((f) => f.requestId === 1 && f.type === FrameType.ERROR),
        10_000,
        "the stalled PUT's error",
      );
      assert.equal(raw.errorCode(), "DFS_ERR_TIMEOUT");
      assert.equal(await fits(), true, "the stalled PUT's space was not released");
      const data = patternBytes(size, 52);
      assert.deepEqual(await client.put(node.addr, sha256(data), data, size), {
        stored: [node.addr],
        failed: [],
      });
    } finally {
      raw.socket.destroy();
    }
  });

  test("a PUT whose peer vanishes releases its space when the connection closes", async () => {
    // The default stall timeout (30 s): only the close can release it within the test's bound.
    const other = await startNode({ dataDir: join(tmp.path, "m"), env: { DFS_CAPACITY: String(capacity) } });
    try {
      const raw = await stalledPut(53, other);
      await waitFor(async () => !(await fits(other)), 5000, "the PUT's reservation");
      raw.socket.destroy();
      await waitFor(() => fits(other), 10_000, "the space of the vanished PUT");
    } finally {
      await other.stop("SIGKILL");
    }
  });
});
