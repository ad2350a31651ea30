/**
 * Tombstones expiring, end to end on one topology: real Redis under Sentinel, three real `dfs node`
 * processes (R = 3, repair and GC every 500 ms, tombstone grace 5 s), a gateway in this process.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ChunkCipher } from "../src/crypto/index.ts";
import { isDfsError } from "../src/errors.ts";
import { parseManifestHeader } from "../src/formats/index.ts";
import type { NodeInfo } from "../src/registry/index.ts";
import type { NodeClient } from "../src/transport/index.ts";
import { patternBytes } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  SMALL_CHUNK,
  TEST_KEY,
  waitFor,
  waitLive,
} from "./helpers/gateway.ts";
import { copies, download, startHealTopology, stopHealTopology, upload } from "./helpers/heal.ts";

const GRACE_MS = 5000;
const cipher = new ChunkCipher(Buffer.from(TEST_KEY, "hex"));
let cluster: Cluster;
let gw: Gateway;
let client: NodeClient;

before(async () => {
  ({ cluster, gw, client } = await startHealTopology(3, "healtomb:", {
    DFS_TOMBSTONE_GRACE_MS: String(GRACE_MS),
  }));
});

after(() => stopHealTopology({ cluster, gw, client }));

const addrs = () => cluster.nodes.map((n) => n.addr);

/** What each node holds under a manifest id: "tombstone", "manifest" or "none". */
async function heldAs(id: string): Promise<string[]> {
  return Promise.all(
    addrs().map(async (addr) => {
      let sealed: Buffer;
      try {
        sealed = await client.getBuffer(addr, id, { kind: "manifest" });
      } catch (err) {
        if (isDfsError(err, "DFS_ERR_NOT_FOUND")) return "none";
        throw err;
      }
      const header = parseManifestHeader(sealed);
      return header && "type" in header ? header.type : "unreadable";
    }),
  );
}

/** Tombstones the nodes say they let expire, summed over what they last published. */
async function expiredCount(): Promise<number> {
  const { nodes } = (await http(gw.url, "GET", "/v1/nodes")).json as { nodes: NodeInfo[] };
  return nodes.reduce((sum, n) => sum + (n.heal?.expiredTombstones ?? 0), 0);
}

test("a deleted file's tombstones are dropped on every node after the grace; the file stays deleted and can be uploaded again", async () => {
  const small = patternBytes(2000, 61); // in its manifest: one object
  const big = patternBytes(3 * SMALL_CHUNK + 11, 62);
  const files = [await upload(gw.url, small), await upload(gw.url, big)];
  const ids = files.map((f) => cipher.manifestId(f.hash));
  const expiredBefore = await expiredCount();
  const deleted = performance.now();
  for (const f of files) assert.equal((await http(gw.url, "DELETE", `/v1/files/${f.hash}`)).status, 204);
  // W owners took the tombstones at once; repair brings the third.
  await waitFor(
    async () => (await Promise.all(ids.map(heldAs))).flat().every((t) => t === "tombstone"),
    10_000,
    "a tombstone on every node",
  );
  assert.ok(performance.now() - deleted < GRACE_MS, "the tombstones spread too late to see them");
  await waitFor(
    async () => {
      for (const f of files) assert.equal(await download(gw.url, f.hash), 404, "a deleted file came back");
      const held = await copies(client, addrs());
      return ids.every((id) => !held.has(`manifest:${id}`));
    },
    GRACE_MS + 15_000,
    "the tombstones dropped on every node",
  );
  const took = performance.now() - deleted;
  assert.ok(took >= GRACE_MS, `dropped after ${Math.round(took)} ms, within the ${GRACE_MS} ms grace`);
  for (const f of files) {
    assert.equal(await download(gw.url, f.hash), 404);
    assert.equal((await http(gw.url, "DELETE", `/v1/files/${f.hash}`)).status, 404);
  }
  // Each node dropped its own copy of both, and says so with its heartbeats.
  await waitFor(async () => (await expiredCount()) === expiredBefore + 6, 10_000, "6 tombstones counted");
  // The same bytes uploaded again make the file again.
  await upload(gw.url, big);
  assert.ok(((await download(gw.url, files[1]!.hash)) as Buffer).equals(big));
});

test("a node away during the delete, back within the grace: its old manifest is hidden, then every copy goes", async () => {
  const data = patternBytes(3000, 64);
  const f = await upload(gw.url, data);
  const id = cipher.manifestId(f.hash);
  // The upload answered at W: the third copy may land a moment later.
  await waitFor(
    async () => (await heldAs(id)).every((t) => t === "manifest"),
    5000,
    "the manifest on every node",
  );
  const away = cluster.nodes[0]!;
  const port = Number(away.addr.split(":")[1]);
  await away.stop("SIGKILL");
  await waitLive(gw.url, 2);
  assert.equal((await http(gw.url, "DELETE", `/v1/files/${f.hash}`)).status, 204);
  const deleted = performance.now();
  cluster.nodes[0] = await cluster.startNode(0, port);
  await waitLive(gw.url, 3);
  assert.ok(
    performance.now() - deleted < GRACE_MS,
    "the node came back after the grace: too slow to test this",
  );
  // It came back with the file's manifest, older than the tombstone: repair hides it, the GC of
  // each node drops its tombstone after the grace, and the file never comes back.
  await waitFor(
    async () => {
      assert.equal(await download(gw.url, f.hash), 404, "a deleted file came back");
      return (await heldAs(id)).every((t) => t === "none");
    },
    GRACE_MS + 15_000,
    "every copy of the manifest gone",
  );
  assert.equal(await download(gw.url, f.hash), 404);
});

/** Waits until a node's repair rounds have recorded, within the last 2 s, that it took part. */
async function recentlyAlive(dataDir: string): Promise<void> {
  await waitFor(
    async () => {
      const at = Number(await readFile(join(dataDir, "alive"), "utf8").catch(() => "0"));
      return Date.now() - at < 2000;
    },
    5000,
    "a recent alive mark",
  );
}

const awayWarning = (l: Record<string, unknown>) => String(l.msg).includes("longer than the tombstone grace");

test("a node away for longer than the tombstone grace says so when it starts again", async () => {
  const node = cluster.nodes[2]!;
  const port = Number(node.addr.split(":")[1]);
  await recentlyAlive(node.dataDir);
  await node.stop("SIGTERM");
  // As if it had been switched off for twice the grace.
  await writeFile(join(node.dataDir, "alive"), `${Date.now() - 2 * GRACE_MS}\n`);
  const back = await cluster.startNode(2, port);
  cluster.nodes[2] = back;
  const line = await back.proc.waitForLog(awayWarning);
  assert.equal(line.level, 40);
  assert.ok(Number(line.awayMs) >= 2 * GRACE_MS, JSON.stringify(line));
  await waitLive(gw.url, 3);
  // Back within the grace, it says nothing.
  await recentlyAlive(back.dataDir);
  await back.stop("SIGTERM");
  const again = await cluster.startNode(2, port);
  cluster.nodes[2] = again;
  await waitLive(gw.url, 3);
  // The check runs before healing starts: once a repair round ran, any warning would be there.
  await again.proc.waitForLog((l) => l.round === "repair");
  assert.ok(!again.proc.logs.some(awayWarning), "a warning after a short absence");
});
