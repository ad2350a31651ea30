import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdir } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseHostPort } from "../src/config/index.ts";
import { isDfsError } from "../src/errors.ts";
import {
  ErrorMsg,
  encodeFrame,
  encodeHeader,
  FrameType,
  PutReq,
  SyncLimits,
  SyncReq,
} from "../src/protocol/index.ts";
import type { NodeClient } from "../src/transport/index.ts";
import {
  type NodeProc,
  startNode,
  TEST_AUTHORITY_KEY,
  TEST_SECRET,
  testNodeClient,
  testTrust,
} from "./helpers/cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { RawLink } from "./helpers/link.ts";
import { CLI, startProcess } from "./helpers/proc.ts";
import { writesInProgress } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

/** Opens a raw socket and collects everything the node sends until it closes. */
async function rawSession(addr: string, send: (s: Socket) => void | Promise<void>): Promise<Buffer> {
  const { host, port } = parseHostPort(addr)!;
  const socket = connect({ host, port });
  await once(socket, "connect");
  const received: Buffer[] = [];
  socket.on("data", (d: Buffer) => received.push(d));
  socket.on("error", () => {});
  const closed = once(socket, "close");
  await send(socket);
  const timer = setTimeout(() => socket.destroy(), 15_000);
  await closed;
  clearTimeout(timer);
  return Buffer.concat(received);
}

/** An authenticated raw link: `send` gets it once the handshake is done; resolves with what it read. */
async function sealedSession(addr: string, send: (l: RawLink) => void | Promise<void>): Promise<RawLink> {
  const link = await RawLink.open(addr);
  await send(link);
  await link.closedWithin(15_000);
  return link;
}

function firstErrorCode(bytes: Buffer): string | undefined {
  for (let pos = 0; pos + 12 <= bytes.length; ) {
    const type = bytes[pos + 1];
    const len = bytes.readUInt32BE(pos + 8);
    if (type === FrameType.ERROR) return ErrorMsg.decode(bytes.subarray(pos + 12, pos + 12 + len)).code;
    pos += 12 + len;
  }
  return undefined;
}

function openFds(pid: number): Promise<number> {
  return readdir(`/proc/${pid}/fd`).then((fds) => fds.length);
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a storage node facing hostile input", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let node: NodeProc;
  let client: NodeClient;
  const keep = patternBytes(600_000, 11);
  const keepId = sha256(keep);
  let baselineFds = 0;

  before(async () => {
    dir = await makeTempDir();
    node = await startNode({ dataDir: join(dir.path, "n"), env: { DFS_FRAME_TIMEOUT_MS: "1500" } });
    client = testNodeClient();
    await client.put(node.addr, keepId, keep, keep.length);
    baselineFds = await openFds(node.proc.pid);
  });

  after(async () => {
    await client?.close();
    await node?.stop("SIGKILL");
    await dir?.remove();
  });

  /** After every attack: still serving, earlier data intact, no temp files, no leaked descriptors. */
  async function assertHealthy(): Promise<void> {
    assert.equal((await client.ping(node.addr)).nodeId, node.nodeId);
    assert.ok((await client.getBuffer(node.addr, keepId)).equals(keep), "earlier chunk intact");
    await waitFor(
      async () => (await writesInProgress(node.dataDir)).length === 0,
      5000,
      "no write in progress",
    );
    await waitFor(
      async () => (await openFds(node.proc.pid)) <= baselineFds + 8,
      5000,
      "descriptors to be released",
    );
  }

  test("random bytes get an error and a close", async () => {
    const reply = await rawSession(node.addr, (s) => void s.write(randomBytes(4096)));
    assert.ok(["DFS_ERR_VERSION", "DFS_ERR_PROTOCOL", "DFS_ERR_AUTH"].includes(firstErrorCode(reply) ?? ""));
    await assertHealthy();
  });

  test("a length field of 4 GiB is refused", async () => {
    const link = await sealedSession(node.addr, (l) => {
      const h = encodeHeader(FrameType.DATA, 1, 0);
      h.writeUInt32BE(0xffffffff, 8);
      l.socket.write(h);
    });
    assert.equal(link.errorCode(), "DFS_ERR_PROTOCOL");
    await assertHealthy();
  });

  test("an unknown frame type is refused", async () => {
    const link = await sealedSession(node.addr, (l) => {
      const h = encodeHeader(FrameType.PING, 1, 16);
      h[1] = 0x7e;
      l.socket.write(h);
    });
    assert.equal(link.errorCode(), "DFS_ERR_PROTOCOL");
    await assertHealthy();
  });

  test("no peer can delete: the reserved type 0x14 is refused and the object stays", async () => {
    // kind 0 (chunk) and the id: what a delete request would have carried.
    const body = Buffer.concat([Buffer.from([0]), Buffer.from(keepId, "hex")]);
    const link = await sealedSession(node.addr, (l) => l.send(0x14, 1, body));
    assert.equal(link.errorCode(), "DFS_ERR_PROTOCOL");
    assert.deepEqual(await client.has(node.addr, [keepId]), [true]);
    await assertHealthy();
  });

  test("commands without the handshake are refused", async () => {
    const reply = await rawSession(node.addr, (s) => void s.write(encodeFrame(FrameType.PING, 1)));
    assert.equal(firstErrorCode(reply), "DFS_ERR_AUTH");
    await assertHealthy();
  });

  test("a peer without a credential is refused", async () => {
    const reply = await rawSession(node.addr, (s) => {
      s.write(encodeFrame(FrameType.HELLO, 0, randomBytes(64)));
      s.write(encodeFrame(FrameType.AUTH, 0, randomBytes(200)));
    });
    assert.equal(firstErrorCode(reply), "DFS_ERR_AUTH");
    await assertHealthy();
  });

  test("a handshake message of the wrong size is refused before its body is read", async () => {
    const reply = await rawSession(node.addr, (s) => {
      // A HELLO that claims 64 KiB: refused on its header, with no body sent at all.
      s.write(encodeHeader(FrameType.HELLO, 0, 64 * 1024));
    });
    assert.equal(firstErrorCode(reply), "DFS_ERR_AUTH");
    await assertHealthy();
  });

  test("a truncated frame, then silence: the node closes the connection", async () => {
    const closedAfter = Date.now();
    const link = await sealedSession(node.addr, (l) => {
      l.socket.write(l.sealed(FrameType.PING, 1).subarray(0, 7));
    });
    assert.equal(link.errorCode(), "DFS_ERR_TIMEOUT");
    assert.ok(Date.now() - closedAfter < 10_000, "closed by the node's frame timeout, not ours");
    await assertHealthy();
  });

  test("a peer that connects and says nothing is closed after the handshake timeout", async () => {
    const reply = await rawSession(node.addr, () => {});
    assert.equal(firstErrorCode(reply), "DFS_ERR_TIMEOUT");
    await assertHealthy();
  });

  test("a client that stops mid-chunk leaves nothing behind", async () => {
    const data = patternBytes(4 * 1024 * 1024, 13);
    const id = sha256(data);
    await sealedSession(node.addr, async (l) => {
      l.send(
        FrameType.PUT,
        5,
        PutReq.encode({ kind: "chunk", id, size: data.length, checksum: undefined, forward: [] }),
      );
      l.sendData(5, data.subarray(0, 300_000), false);
      await new Promise((r) => setTimeout(r, 100));
      l.socket.destroy();
    });
    await assertHealthy();
    assert.deepEqual(await client.has(node.addr, [id]), [false]);
  });

  test("more bytes than declared are refused", async () => {
    const data = patternBytes(1000, 14);
    const link = await sealedSession(node.addr, (l) => {
      l.send(
        FrameType.PUT,
        9,
        PutReq.encode({ kind: "chunk", id: sha256(data), size: 10, checksum: undefined, forward: [] }),
      );
      l.sendData(9, data);
      setTimeout(() => l.socket.end(), 300);
    });
    assert.equal(link.errorCode(), "DFS_ERR_TOO_LARGE");
    await assertHealthy();
  });

  test("SYNC: only nodes may ask; wrong sizes and huge counts are refused and the link closed", async () => {
    const all = new Uint8Array(SyncLimits.SET_BYTES).fill(0xff);
    const root = SyncReq.encode({ op: "root", tree: 0, set: all });
    // A gateway (the raw link's default credential) may not: refused for its id, the link stays.
    const gateway = await RawLink.open(node.addr);
    gateway.send(FrameType.SYNC, 1, root);
    const refused = await gateway.reply(1);
    assert.equal(refused?.type, FrameType.ERROR);
    assert.equal(ErrorMsg.decode(refused.body).code, "DFS_ERR_FORBIDDEN");
    gateway.send(FrameType.PING, 2);
    assert.equal((await gateway.reply(2))?.type, FrameType.RESULT, "the link stays open");
    gateway.socket.destroy();
    // A node may: the root over every partition counts the one chunk held.
    const peer = testNodeClient("node", "hostile-peer");
    try {
      const { answer, bytes } = await peer.sync(node.addr, { op: "root", tree: 0, set: all });
      assert.equal(answer.digests.readUInt32BE(0), 1);
      assert.equal(bytes, 2 * 28 + root.length + 2 + 36);
      // A tree it does not keep: not found, the request alone fails.
      await assert.rejects(peer.sync(node.addr, { op: "root", tree: 9, set: all }), (e) =>
        isDfsError(e, "DFS_ERR_NOT_FOUND"),
      );
    } finally {
      await peer.close();
    }
    const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
    const hostile: [string, Buffer][] = [
      ["a set one byte short", Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(8191)])],
      ["65,535 partitions", Buffer.concat([Buffer.from([3, 0]), u16(65_535), Buffer.alloc(60_000)])],
      [
        "an element limit of 65,535",
        Buffer.concat([Buffer.from([4, 0]), u16(7), Buffer.from([0]), u16(65_535)]),
      ],
      ["an unknown op", Buffer.from([0xee, 0])],
    ];
    for (const [what, body] of hostile) {
      const link = await RawLink.open(node.addr, testTrust("node", "hostile-peer"));
      link.send(FrameType.SYNC, 3, body);
      assert.equal(await link.closedWithin(10_000), true, `${what}: the link closed`);
      assert.equal(link.errorCode(), "DFS_ERR_PROTOCOL", what);
    }
    await assertHealthy();
  });

  test("a second node on the same data directory refuses to start", async () => {
    const second = startProcess([CLI, "node", "--listen", "127.0.0.1:0", "--data", node.dataDir], {
      env: { DFS_CLUSTER_SECRET: TEST_SECRET, DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY, DFS_RESERVE: "0" },
    });
    try {
      // A second node that started anyway would never exit: bounded wait, then it is stopped below.
      const exited = await Promise.race([second.exited, sleep(15_000, undefined, { ref: false })]);
      assert.ok(exited, "the second node did not exit");
      assert.notEqual(exited.code, 0);
      const said = `${second.stderr()}${JSON.stringify(second.logs)}`;
      assert.match(said, /DFS_ERR_DATA_DIR_LOCKED/);
      assert.match(said, /in use by another node process/);
    } finally {
      await second.stop("SIGKILL");
    }
    await assertHealthy();
  });

  test("1000 connections opened and dropped", async () => {
    const { host, port } = parseHostPort(node.addr)!;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const s = connect({ host, port });
          s.on("error", () => {});
          await once(s, "connect").catch(() => {});
          s.destroy();
        }),
      );
    }
    await assertHealthy();
  });
});
