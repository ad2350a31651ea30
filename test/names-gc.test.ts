/**
 * Keys, file holders and garbage collection on a real cluster with short heal timings (GC grace
 * 1 s, rounds every 500 ms): an overwritten or deleted key's file is deleted and its chunks
 * collected when nothing else holds it, and kept while another key or the hash API does; a PUT
 * racing the delete of a file's last holder, through another gateway, never loses the file.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { FileMeta } from "../src/api/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { type Gateway, http, SMALL_CHUNK, startGatewayInProcess, waitLive } from "./helpers/gateway.ts";
import {
  type HealTopology,
  startHealTopology,
  stopHealTopology,
  waitChunksCollected,
} from "./helpers/heal.ts";

let t: HealTopology;
let other: Gateway;

before(async () => {
  t = await startHealTopology(3, "namesgc:");
  other = await startGatewayInProcess(t.cluster, { "chunk-size": String(SMALL_CHUNK) });
  await waitLive(other.url, 3);
  assert.equal((await http(t.gw.url, "PUT", "/v1/buckets/gc-bucket")).status, 201);
});

after(async () => {
  await other?.stop();
  await stopHealTopology(t);
});

const path = (key: string) => `/v1/buckets/gc-bucket/objects/${encodeURIComponent(key)}`;
const addrs = () => t.cluster.nodes.map((n) => n.addr);

async function put(gw: Gateway, key: string, data: Buffer): Promise<void> {
  const res = await http(gw.url, "PUT", path(key), { body: data });
  assert.equal(res.status, 201);
}

async function chunkIds(hash: string): Promise<string[]> {
  const meta = await http(t.gw.url, "GET", `/v1/files/${hash}/meta`);
  assert.equal(meta.status, 200);
  return (meta.json as FileMeta).chunks.map((c) => c.id);
}

/** The gateway's count of file releases with this result. */
async function releases(gw: Gateway, result: string): Promise<number> {
  const text = (await http(gw.url, "GET", "/metrics")).body.toString();
  return Number(
    new RegExp(`dfs_gateway_file_releases_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
  );
}

async function readable(gw: Gateway, p: string, data: Buffer): Promise<boolean> {
  const res = await http(gw.url, "GET", p);
  return res.status === 200 && res.body.equals(data);
}

describe("holders and collection", () => {
  test("an overwritten key's file is collected; files another key or the hash API holds stay", async () => {
    const a = patternBytes(3 * SMALL_CHUNK, 501);
    const b = patternBytes(3 * SMALL_CHUNK, 502);
    const shared = patternBytes(2 * SMALL_CHUNK, 503);
    const hashed = patternBytes(2 * SMALL_CHUNK, 504);
    await put(t.gw, "k", a);
    const aChunks = await chunkIds(sha256(a));
    await put(t.gw, "s1", shared);
    await put(other, "s2", shared);
    assert.equal((await http(t.gw.url, "PUT", "/v1/files", { body: hashed })).status, 201);
    await put(t.gw, "h", hashed);

    await put(other, "k", b); // overwrite: a is held by nothing now
    assert.equal((await http(t.gw.url, "GET", `/v1/files/${sha256(a)}`)).status, 404);
    assert.equal((await http(other.url, "DELETE", path("s1"))).status, 204);
    assert.equal((await http(other.url, "DELETE", path("h"))).status, 204);
    await waitChunksCollected(t.client, addrs, aChunks, 30_000, "the overwritten file's chunks collected");

    // A few more GC rounds past the grace: what is held stays whole.
    await delay(2500);
    assert.ok(await readable(other, path("k"), b), "the new version");
    assert.ok(await readable(t.gw, path("s2"), shared), "held by the other key");
    assert.ok(await readable(t.gw, `/v1/files/${sha256(hashed)}`, hashed), "held by the hash API");
  });

  test("a PUT racing the delete of the file's last holder, through another gateway, never loses it", async () => {
    const rounds = 40;
    const files = Array.from({ length: rounds }, (_, i) => patternBytes(SMALL_CHUNK + i, 600 + i));
    for (const [i, data] of files.entries()) await put(t.gw, `race-old-${i}`, data);
    const revivedBefore = await releases(t.gw, "revived");
    for (const [i, data] of files.entries()) {
      // The put starts from 6 ms before the delete to 13 ms after it, round by round.
      const offset = (i % 20) - 6;
      await Promise.all([
        (async () => {
          await delay(Math.max(0, -offset));
          assert.equal((await http(t.gw.url, "DELETE", path(`race-old-${i}`))).status, 204);
        })(),
        (async () => {
          await delay(Math.max(0, offset));
          await put(other, `race-new-${i}`, data);
        })(),
      ]);
    }
    // Past the GC grace, with rounds run: every new key still reads whole, through both gateways.
    await delay(3000);
    for (const [i, data] of files.entries()) {
      assert.ok(await readable(t.gw, path(`race-new-${i}`), data), `round ${i} through the first gateway`);
      assert.ok(await readable(other, path(`race-new-${i}`), data), `round ${i} through the other`);
      assert.ok(await readable(other, `/v1/files/${sha256(data)}`, data), `round ${i} by hash`);
    }
    const revived = (await releases(t.gw, "revived")) - revivedBefore;
    assert.ok(revived > 0, "some rounds hit the race: a holder appeared as its file was deleted");
  });
});
