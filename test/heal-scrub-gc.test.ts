/**
 * Scrub, read-repair and garbage collection end to end on one topology: real Redis under Sentinel,
 * four real `dfs node` processes (R = 3, scrub every 500 ms, GC grace 1 s), a gateway in this process.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ChunkCipher } from "../src/crypto/index.ts";
import { isDfsError } from "../src/errors.ts";
import {
  CHUNK_REFS_TABLE,
  hlcOf,
  parseManifestHeader,
  type TableRecord,
  uploadHold,
} from "../src/formats/index.ts";
import type { NodeClient } from "../src/transport/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  multipart,
  SMALL_CHUNK,
  TEST_KEY,
  waitFor,
  waitLive,
} from "./helpers/gateway.ts";
import {
  chunkIds as chunkIdsOf,
  copies,
  download,
  flipStored,
  readStored,
  startHealTopology,
  stopHealTopology,
  storedCopy,
  upload,
  waitChunksCollected,
} from "./helpers/heal.ts";

let cluster: Cluster;
let gw: Gateway;
let client: NodeClient;

before(async () => {
  ({ cluster, gw, client } = await startHealTopology(4, "healscrub:", { DFS_SCRUB_INTERVAL_MS: "500" }));
});

after(async () => {
  if (process.env.HEAL_DEBUG) {
    for (const n of cluster?.nodes ?? []) {
      const lines = n.proc.logs.filter((l) => l.component === "heal" && (l.level as number) >= 40);
      console.log(n.addr, JSON.stringify(lines.slice(-5)));
      const last = n.proc.logs.filter((l) => l.round === "gc").slice(-1);
      console.log(n.addr, JSON.stringify(last));
    }
  }
  await stopHealTopology({ cluster, gw, client });
});

const chunkIds = (hash: string) => chunkIdsOf(gw.url, hash);

/** A node holding `id` on disk. */
async function holderOf(id: string) {
  for (const n of cluster.nodes) if (await storedCopy(n.dataDir, "chunk", id)) return n;
  throw new Error(`no node holds ${id}`);
}

/** The node's current copy of a chunk, hashed (of no bytes when it holds none). */
async function storedHash(dataDir: string, id: string): Promise<string> {
  return sha256((await readStored(dataDir, "chunk", id)) ?? Buffer.alloc(0));
}

describe("scrub and read-repair", () => {
  test("(b) a flipped byte in a stored chunk is quarantined and replaced; downloads stay correct", async () => {
    const data = patternBytes(3 * SMALL_CHUNK + 5, 7);
    const f = await upload(gw.url, data);
    const [id] = await chunkIds(f.hash);
    const node = await holderOf(id!);
    // Checked on what was written: the node's scrub may quarantine the copy at any moment now.
    assert.notEqual(sha256(await flipStored(node.dataDir, "chunk", id!)), id);
    // The download is right at once (the bad copy fails the tag; another node serves it).
    assert.ok(((await download(gw.url, f.hash)) as Buffer).equals(data));
    await waitFor(
      async () => (await storedHash(node.dataDir, id!)) === id,
      15_000,
      "the corrupt copy replaced by a good one",
    );
    assert.ok(((await download(gw.url, f.hash)) as Buffer).equals(data));
  });

  test("scrub alone: a corrupt copy nobody reads is quarantined and replaced", async () => {
    const f = await upload(gw.url, patternBytes(2 * SMALL_CHUNK, 8));
    const [id] = await chunkIds(f.hash);
    const node = await holderOf(id!);
    await flipStored(node.dataDir, "chunk", id!);
    await waitFor(
      async () => (await storedHash(node.dataDir, id!)) === id,
      15_000,
      "scrub to replace the corrupt copy",
    );
    const quarantined = await readdir(join(node.dataDir, "quarantine"));
    assert.ok(quarantined.includes(`chunk-${id}`), `quarantine holds the bad copy: ${quarantined.join(",")}`);
  });
});

describe("garbage collection and tombstones", () => {
  test("a chunk whose upload's hold lapsed is kept for the grace, then collected; one without references stays", async () => {
    const held = patternBytes(1000, 77);
    const bare = patternBytes(1000, 78);
    const heldId = sha256(held);
    const bareId = sha256(bare);
    const node = cluster.nodes[0]!;
    const t0 = Date.now();
    const leaseMs = 500;
    const hold: TableRecord = {
      table: CHUNK_REFS_TABLE,
      partitionKey: Buffer.from(heldId, "hex"),
      ...uploadHold("ab".repeat(32), t0 + leaseMs),
      version: { hlc: hlcOf(t0), writer: "test-peer" },
      deleted: false,
    };
    await client.put(node.addr, heldId, held, held.length, { kind: "chunk", records: [hold] });
    // Written before references existed (or by a node not yet upgraded): no record at all.
    await client.put(node.addr, bareId, bare, bare.length, { kind: "chunk" });
    // Repair may hand either copy to its owners (the hold travels with it by table sync): look at
    // every node, not only the one written to.
    const holders = async (id: string) =>
      (
        await copies(
          client,
          cluster.nodes.map((n) => n.addr),
        )
      ).get(`chunk:${id}`)?.length ?? 0;
    await waitFor(async () => (await holders(heldId)) === 0, 15_000, "the lapsed chunk collected everywhere");
    const ms = Date.now() - t0;
    // The lease (0.5 s), then the grace (1 s), both counted from the lease's end.
    assert.ok(ms >= leaseMs + 1000, `collected after ${ms} ms, before the lease and the grace ran out`);
    assert.ok((await holders(bareId)) >= 1, "a chunk without references was collected");
  });

  test("(d) deleted files' unshared chunks are collected, shared ones stay; a node down during the delete brings nothing back", async () => {
    const base = patternBytes(4 * SMALL_CHUNK, 21);
    const a = await upload(gw.url, base); // 4 chunks
    // b shares a's first two chunks (same bytes at the same chunk boundaries), then differs.
    const b = await upload(
      gw.url,
      Buffer.concat([base.subarray(0, 2 * SMALL_CHUNK), patternBytes(SMALL_CHUNK, 22)]),
    );
    const aIds = await chunkIds(a.hash);
    const bIds = await chunkIds(b.hash);
    const shared = aIds.filter((id) => bIds.includes(id));
    const onlyA = aIds.filter((id) => !bIds.includes(id));
    assert.equal(shared.length, 2);
    assert.equal(onlyA.length, 2);

    // A node that holds a copy of a's manifest is down during the delete.
    const manifestId = new ChunkCipher(Buffer.from(TEST_KEY, "hex")).manifestId(a.hash);
    const held = await copies(
      client,
      cluster.nodes.map((n) => n.addr),
    );
    const downIndex = cluster.nodes.findIndex((n) => held.get(`manifest:${manifestId}`)?.includes(n.addr));
    const down = cluster.nodes[downIndex]!;
    const port = Number(down.addr.split(":")[1]);
    await down.stop("SIGKILL");
    await waitLive(gw.url, 3);

    assert.equal((await http(gw.url, "DELETE", `/v1/files/${a.hash}`)).status, 204);
    assert.equal(await download(gw.url, a.hash), 404);
    assert.equal((await http(gw.url, "DELETE", `/v1/files/${a.hash}`)).status, 404);

    const liveNow = () => cluster.nodes.filter((n) => n !== down).map((n) => n.addr);
    await waitChunksCollected(
      client,
      liveNow,
      onlyA,
      20_000,
      "a's unshared chunks collected on the live nodes",
    );
    let h = await copies(client, liveNow());
    for (const id of shared) assert.ok((h.get(`chunk:${id}`) ?? []).length >= 2, "shared chunks stay");
    assert.ok(
      ((await download(gw.url, b.hash)) as Buffer).equals(
        Buffer.concat([base.subarray(0, 2 * SMALL_CHUNK), patternBytes(SMALL_CHUNK, 22)]),
      ),
    );

    // The node comes back with its old copy of a's manifest and chunks: a stays deleted.
    const back = await cluster.startNode(downIndex, port);
    cluster.nodes[downIndex] = back;
    await waitLive(gw.url, 4);
    // Its old manifest loses to the tombstone (replaced by it, or dropped) and its copies of a's
    // unshared chunks are collected: two rounds (repair, GC) that may end in either order.
    const manifestLost = async (): Promise<boolean> => {
      let sealed: Buffer;
      try {
        sealed = await client.getBuffer(back.addr, manifestId, { kind: "manifest" });
      } catch (err) {
        return isDfsError(err, "DFS_ERR_NOT_FOUND"); // dropped: lost too
      }
      const header = parseManifestHeader(sealed);
      return header !== undefined && "type" in header && header.type === "tombstone";
    };
    await waitFor(
      async () => {
        assert.equal(await download(gw.url, a.hash), 404, "a deleted file came back");
        const hh = await copies(
          client,
          cluster.nodes.map((n) => n.addr),
        );
        return onlyA.every((id) => !hh.has(`chunk:${id}`)) && (await manifestLost());
      },
      20_000,
      "the returning node's manifest of a replaced and its copies of a's unshared chunks collected",
    );
    assert.equal(await download(gw.url, a.hash), 404);
    h = await copies(
      client,
      cluster.nodes.map((n) => n.addr),
    );
    for (const id of shared) assert.ok((h.get(`chunk:${id}`) ?? []).length >= 3, "shared chunks at R copies");
    assert.ok(Buffer.isBuffer(await download(gw.url, b.hash)));

    // Uploading the same bytes again after the delete makes the file again (a newer stamp).
    const again = await http(gw.url, "POST", "/v1/files", { body: multipart(base) });
    assert.equal(again.status, 201);
    assert.ok(((await download(gw.url, a.hash)) as Buffer).equals(base));
  });
});
