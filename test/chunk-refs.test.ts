/**
 * Chunk references and garbage collection from them (ARCHITECTURE.md, "Chunk references and
 * garbage collection"): real nodes, Redis, disks and gateways; heal timings of HEAL_ENV (GC every
 * 500 ms, a 1 s grace).
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { CHUNK_REFS_TABLE, parseChunkRef, type TableRecord } from "../src/formats/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { type Gateway, http, SMALL_CHUNK, startGatewayInProcess, waitFor } from "./helpers/gateway.ts";
import {
  chunkIds,
  copies,
  download,
  type HealTopology,
  startHealTopology,
  stopHealTopology,
  upload,
  waitChunksCollected,
} from "./helpers/heal.ts";

/** Every chunk_refs record of `chunk` on node `addr`, retractions included. */
async function refsOn(t: HealTopology, addr: string, chunk: string): Promise<TableRecord[]> {
  const partitionKey = Buffer.from(chunk, "hex");
  const got = await t.client.tableRead(addr, {
    mode: "range",
    table: CHUNK_REFS_TABLE,
    partitionKey,
    after: undefined,
    from: undefined,
    prefix: undefined,
    limit: 1000,
    includeDeleted: true,
  });
  return got.entries.map((e) => ({ table: CHUNK_REFS_TABLE, partitionKey, ...e }));
}

describe("chunk references", { concurrency: false }, () => {
  let t: HealTopology;
  before(async () => {
    t = await startHealTopology(3, "dfs-refs");
  });
  after(async () => {
    await stopHealTopology(t ?? {});
  });
  const addrs = () => t.cluster.nodes.map((n) => n.addr);

  test("a shared chunk survives deleting one of its two files and goes after deleting both", async () => {
    const base = patternBytes(3 * SMALL_CHUNK, 31);
    const a = await upload(t.gw.url, base);
    const bBytes = Buffer.concat([base.subarray(0, 2 * SMALL_CHUNK), patternBytes(SMALL_CHUNK, 32)]);
    const b = await upload(t.gw.url, bBytes);
    const aIds = await chunkIds(t.gw.url, a.hash);
    const bIds = await chunkIds(t.gw.url, b.hash);
    const shared = aIds.filter((id) => bIds.includes(id));
    assert.equal(shared.length, 2);

    // Every owner holds one live reference per manifest; the uploads' holds are retracted in the
    // background after each upload answered, so they go a moment later.
    for (const addr of addrs()) {
      const kinds = async () =>
        (await refsOn(t, addr, shared[0]!)).filter((r) => !r.deleted).map((r) => parseChunkRef(r)?.kind);
      await waitFor(
        async () => isDeepStrictEqual(await kinds(), ["manifest", "manifest"]),
        10_000,
        `${addr} holding the shared chunk's references from both files, and no hold`,
      );
    }

    assert.equal((await http(t.gw.url, "DELETE", `/v1/files/${a.hash}`)).status, 204);
    const onlyA = aIds.filter((id) => !bIds.includes(id));
    await waitChunksCollected(t.client, addrs, onlyA, 20_000, "a's own chunk collected");
    // Several GC rounds (every 500 ms) past the 1 s grace: the shared chunks are still everywhere.
    await sleep(2500);
    const held = await copies(t.client, addrs());
    for (const id of shared) assert.equal(held.get(`chunk:${id}`)?.length, 3, "a shared chunk was collected");
    assert.ok(((await download(t.gw.url, b.hash)) as Buffer).equals(bBytes), "b reads back");

    assert.equal((await http(t.gw.url, "DELETE", `/v1/files/${b.hash}`)).status, 204);
    await waitChunksCollected(t.client, addrs, bIds, 20_000, "the chunks of both files collected");
  });

  test("an upload that outlasts its lease and the grace keeps every chunk it wrote", async () => {
    let slow: Gateway | undefined;
    try {
      // Holds of 600 ms, renewed every 200 ms; GC runs every 500 ms with a 1 s grace.
      slow = await startGatewayInProcess(t.cluster, {
        "chunk-size": String(SMALL_CHUNK),
        "upload-lease-ms": "600",
      });
      const data = patternBytes(4 * SMALL_CHUNK + 100, 33);
      const body = Readable.from(
        (async function* () {
          yield data.subarray(0, 2 * SMALL_CHUNK);
          // Two chunks are stored now; the upload then waits for five GC rounds.
          await sleep(3000);
          yield data.subarray(2 * SMALL_CHUNK);
        })(),
      );
      const res = await http(slow.url, "PUT", "/v1/files", {
        body,
        headers: { "content-type": "application/octet-stream" },
      });
      assert.equal(res.status, 201);
      // And long after: the manifest's references hold the chunks now.
      await sleep(2500);
      const got = await download(slow.url, sha256(data));
      assert.ok(Buffer.isBuffer(got) && got.equals(data), `the slow upload reads back (got ${String(got)})`);
    } finally {
      await slow?.stop();
    }
  });
});
