import assert from "node:assert/strict";
import { once } from "node:events";
import { readdir } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseHostPort } from "../src/config/index.ts";
import { issueCredential, resolveTrust, signingKeyFromSeed } from "../src/credentials/index.ts";
import { isDfsError } from "../src/errors.ts";
import { encodeHeader, FrameType, HasReq, HasRes, PutReq } from "../src/protocol/index.ts";
import { type LinkTrust, NodeClient } from "../src/transport/index.ts";
import {
  type NodeProc,
  startNode,
  TEST_AUTHORITY_KEY,
  TEST_SECRET,
  testNodeClient,
  testTrust,
} from "./helpers/cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { frame, RawLink, Relay } from "./helpers/link.ts";
import { CLI, startProcess } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

function openFds(pid: number): Promise<number> {
  return readdir(`/proc/${pid}/fd`).then((fds) => fds.length);
}

/** A credential of `role` from the test authority, valid from `fromMs` to `toMs`. */
function trustValid(role: "gateway" | "node", id: string, fromMs: number, toMs: number): LinkTrust {
  const base = testTrust(role, id);
  const credential = issueCredential(signingKeyFromSeed(Buffer.from(TEST_AUTHORITY_KEY, "hex")), {
    role,
    id,
    publicKey: base.identity.key.publicKey,
    issuedAtMs: fromMs,
    notAfterMs: toMs,
  });
  return { ...base, identity: { credential, key: base.identity.key } };
}

describe("the node link against relays, replays and the wrong roles (real node process)", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let node: NodeProc;
  let relay: Relay;
  const gateway = testNodeClient("gateway", "gw-test");
  const peer = testNodeClient("node", "peer-test");
  const kept = patternBytes(100_000, 3);
  const keptId = sha256(kept);

  before(async () => {
    dir = await makeTempDir();
    node = await startNode({
      dataDir: join(dir.path, "x"),
      env: { DFS_HANDSHAKE_TIMEOUT_MS: "1500", DFS_FRAME_TIMEOUT_MS: "10000" },
    });
    await gateway.put(node.addr, keptId, kept, kept.length);
    relay = new Relay(node.addr);
    await relay.listen();
  });

  after(async () => {
    await gateway.close();
    await peer.close();
    await relay?.close();
    await node?.stop("SIGKILL");
    await dir?.remove();
  });

  /** Every object the node holds, through a node credential (LIST is a peer's request). */
  async function holdings(): Promise<string[]> {
    return (await peer.list(node.addr, { limit: 1000 })).ids;
  }

  test("a relay dialled as another node gets no session: the credential is not that node's", async () => {
    const client = testNodeClient("gateway", "gw-relay", {
      peerIds: (addr) => (addr === relay.addr ? "f".repeat(32) : undefined),
    });
    try {
      await assert.rejects(
        client.ping(relay.addr),
        (e) => isDfsError(e, "DFS_ERR_AUTH") && e.message.includes(node.nodeId),
      );
      // Told the truth (node X at that address), the relay is a mere pipe: the session is X's.
      const honest = testNodeClient("gateway", "gw-relay", { peerIds: () => node.nodeId });
      try {
        assert.equal((await honest.ping(relay.addr)).nodeId, node.nodeId);
      } finally {
        await honest.close();
      }
    } finally {
      await client.close();
    }
  });

  test("frames a relay injects after a passed-through handshake are refused; nothing runs", async () => {
    const before = await holdings();
    const victim = await RawLink.open(relay.addr, testTrust("gateway", "gw-victim"), node.nodeId);
    victim.send(FrameType.PING, 1);
    assert.equal((await victim.reply(1))?.type, FrameType.RESULT);
    // The relay's own PUT, in the clear (it has no keys), with the DATA for it.
    const evil = patternBytes(5000, 99);
    const put = PutReq.encode({
      kind: "chunk",
      id: sha256(evil),
      size: evil.length,
      checksum: undefined,
      forward: [],
    });
    const up = relay.upstreams.at(-1)!;
    up.write(frame(FrameType.PUT, 7, put));
    up.write(frame(FrameType.DATA, 7, evil));
    assert.ok(await victim.closedWithin(5000), "the node closes the connection");
    assert.deepEqual(await gateway.has(node.addr, [sha256(evil)]), [false]);
    assert.deepEqual(await holdings(), before);
  });

  test("a frame sealed for another session is refused; nothing runs", async () => {
    const before = await holdings();
    const other = await RawLink.open(node.addr, testTrust("gateway", "gw-other"));
    const evil = patternBytes(3000, 98);
    const id = sha256(evil);
    const put = PutReq.encode({ kind: "chunk", id, size: evil.length, checksum: undefined, forward: [] });
    // Sealed under `other`'s keys but never sent there: what a relay could have captured.
    const captured = Buffer.concat([other.sealed(FrameType.PUT, 3, put), other.sealedData(3, evil, true)]);
    other.socket.destroy();
    const target = await RawLink.open(node.addr, testTrust("gateway", "gw-target"));
    target.socket.write(captured);
    assert.ok(await target.closedWithin(5000), "the node closes the connection");
    assert.equal(target.errorCode(), "DFS_ERR_AUTH");
    assert.deepEqual(await gateway.has(node.addr, [id]), [false]);
    assert.deepEqual(await holdings(), before);
  });

  test("a frame replayed within its session is refused", async () => {
    const link = await RawLink.open(node.addr);
    const ping = link.sealed(FrameType.PING, 1);
    link.socket.write(ping);
    assert.equal((await link.reply(1))?.type, FrameType.RESULT);
    link.socket.write(ping);
    assert.ok(await link.closedWithin(5000), "the node closes the connection");
    assert.equal(link.errorCode(), "DFS_ERR_AUTH");
  });

  test("the node's own frame reflected back to it is refused", async () => {
    const link = await RawLink.open(node.addr);
    const before = Buffer.concat(link.received).length;
    link.send(FrameType.HAS, 1, HasReq.encode("chunk", [keptId]));
    const reply = await link.reply(1);
    assert.deepEqual(HasRes.decode(reply!.body), [true]);
    // The RESULT as it came over the wire, sealed by the node, sent back to the node.
    const sealedResult = Buffer.concat(link.received).subarray(before);
    link.socket.write(sealedResult);
    assert.ok(await link.closedWithin(5000), "the node closes the connection");
    assert.equal(link.errorCode(), "DFS_ERR_AUTH");
  });

  test("roles: a gateway may not LIST or STAT, an admin may not PUT or GET, a node may LIST", async () => {
    await assert.rejects(gateway.list(node.addr), (e) => isDfsError(e, "DFS_ERR_FORBIDDEN"));
    await assert.rejects(gateway.stat(node.addr), (e) => isDfsError(e, "DFS_ERR_FORBIDDEN"));
    assert.ok((await holdings()).includes(keptId));
    const admin = testNodeClient("admin", "ops");
    try {
      const data = patternBytes(2000, 5);
      await assert.rejects(admin.put(node.addr, sha256(data), data, data.length), (e) =>
        isDfsError(e, "DFS_ERR_FORBIDDEN"),
      );
      await assert.rejects(admin.getBuffer(node.addr, keptId), (e) => isDfsError(e, "DFS_ERR_FORBIDDEN"));
      assert.deepEqual(await admin.has(node.addr, [keptId, sha256(data)]), [true, false]);
      assert.ok((await admin.stat(node.addr)).chunkCount >= 1);
    } finally {
      await admin.close();
    }
    // The refused requests left the connection usable.
    assert.ok((await gateway.getBuffer(node.addr, keptId)).equals(kept));
  });

  test("a credential that expired, or from another authority, is refused", async () => {
    const now = Date.now();
    const expired = new NodeClient({
      trust: trustValid("gateway", "gw-old", now - 7_200_000, now - 3_600_000),
    });
    const foreignSeed = Buffer.alloc(32, 0x5a);
    const foreign = resolveTrust(
      { authorityPublicKey: undefined, authoritySeed: foreignSeed, identityText: undefined },
      "gateway",
      "gw-foreign",
    );
    // Its own anchor is ours, so it would accept the node; the node refuses it.
    const impostor = new NodeClient({
      trust: { anchor: testTrust().anchor, identity: foreign.identity, secret: Buffer.from(TEST_SECRET) },
    });
    // A process of another cluster refuses our node in turn.
    const elsewhere = new NodeClient({ trust: { ...foreign, secret: Buffer.from(TEST_SECRET) } });
    try {
      await assert.rejects(
        expired.ping(node.addr),
        (e) => isDfsError(e, "DFS_ERR_AUTH") && /expired/.test(e.message),
      );
      await assert.rejects(impostor.ping(node.addr), (e) => isDfsError(e, "DFS_ERR_AUTH"));
      await assert.rejects(elsewhere.ping(node.addr), (e) => isDfsError(e, "DFS_ERR_AUTH"));
    } finally {
      await Promise.all([expired.close(), impostor.close(), elsewhere.close()]);
    }
  });

  test("a handshake trickled byte by byte is cut at the deadline, not kept alive by its bytes", async () => {
    const link = await RawLink.connect(node.addr);
    const started = Date.now();
    const hello = frame(FrameType.HELLO, 0, Buffer.alloc(64, 1));
    let i = 0;
    const drip = setInterval(() => {
      if (i < hello.length && !link.socket.destroyed) link.socket.write(hello.subarray(i, ++i));
    }, 200);
    try {
      assert.ok(await link.closedWithin(8000), "closed");
      const tookMs = Date.now() - started;
      assert.ok(tookMs >= 1400 && tookMs < 6000, `closed after ${tookMs} ms (deadline 1.5 s)`);
      assert.equal(link.errorCode(), "DFS_ERR_TIMEOUT");
    } finally {
      clearInterval(drip);
    }
  });

  test("5000 slow strangers from another address do not lock a gateway out", async () => {
    // A node whose handshake deadline (30 s) outlasts the test: only the stranger caps protect it.
    const node = await startNode({
      dataDir: join(dir.path, "crowded"),
      env: { DFS_HANDSHAKE_TIMEOUT_MS: "30000" },
    });
    await gateway.put(node.addr, keptId, kept, kept.length);
    const { host, port } = parseHostPort(node.addr)!;
    const baselineFds = await openFds(node.proc.pid);
    const sockets: Socket[] = [];
    const header = encodeHeader(FrameType.HELLO, 0, 64);
    let stop = false;
    // Each stranger sends one byte of a HELLO every 2 s: never done, never quite silent.
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(header.subarray(0, 1));
    }, 2000);
    const latencies: number[] = [];
    const probe = (async () => {
      while (!stop) {
        // A new client every time: each probe needs a fresh handshake through the crowd.
        const c = testNodeClient("gateway", "gw-probe");
        const t = performance.now();
        try {
          await c.has(node.addr, [keptId]);
          latencies.push(performance.now() - t);
        } catch (err) {
          latencies.push(Number.POSITIVE_INFINITY);
          console.error("probe failed", err);
        } finally {
          await c.close();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 250 }, async () => {
            const s = connect({ host, port, localAddress: "127.0.0.2" });
            s.on("error", () => {});
            sockets.push(s);
            await Promise.race([once(s, "connect"), once(s, "close")]).catch(() => {});
            if (!s.destroyed) s.write(header.subarray(0, 1));
          }),
        );
      }
      assert.equal(sockets.length, 5000);
      // Keep the crowd up a while longer, while the probes run.
      await new Promise((r) => setTimeout(r, 3000));
      const fds = await openFds(node.proc.pid);
      assert.ok(fds < baselineFds + 200, `the node holds ${fds - baselineFds} more descriptors`);
    } finally {
      stop = true;
      clearInterval(drip);
      await probe;
      for (const s of sockets) s.destroy();
      await node.stop("SIGKILL");
    }
    assert.ok(latencies.length >= 5, `only ${latencies.length} probes ran`);
    const worst = Math.max(...latencies);
    assert.ok(
      worst < 2500,
      `a gateway waited ${Math.round(worst)} ms (all: ${latencies.map(Math.round).join(",")})`,
    );
  });
});

describe("trust is required to start", () => {
  test("a node or gateway without an authority configured refuses to start (DFS_ERR_CONFIG)", async () => {
    const dir = await makeTempDir();
    const env = { DFS_CLUSTER_SECRET: TEST_SECRET, DFS_CLUSTER_KEY: "5f".repeat(32), DFS_RESERVE: "0" };
    const procs = [
      startProcess([CLI, "node", "--listen", "127.0.0.1:0", "--data", join(dir.path, "n")], { env }),
      startProcess([CLI, "gateway", "--listen", "127.0.0.1:0", "--redis", "redis://127.0.0.1:1"], { env }),
    ];
    try {
      for (const p of procs) {
        const exited = await Promise.race([
          p.exited,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000).unref()),
        ]);
        assert.ok(exited, "the process did not exit");
        assert.notEqual(exited.code, 0);
        const said = `${p.stderr()}${JSON.stringify(p.logs)}`;
        assert.match(said, /DFS_ERR_CONFIG/);
        assert.match(said, /identityFile and cluster.authorityPublicKey are required/);
      }
    } finally {
      await Promise.all(procs.map((p) => p.stop("SIGKILL")));
      await dir.remove();
    }
  });
});
