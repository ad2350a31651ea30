/**
 * Signed versions and signed records, end to end: real Redis under Sentinel, three real `dfs node`
 * processes (R = 3, repair and GC every 500 ms, no cache so reads see the disk) and a signing
 * gateway in this process; objects from before signing are sealed here and stored without a trailer.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { issueIdentity, parseTrailer, signingKeyFromSeed } from "../src/credentials/index.ts";
import { ChunkCipher, sha256Hex } from "../src/crypto/index.ts";
import { isDfsError } from "../src/errors.ts";
import { parseManifestHeader } from "../src/formats/index.ts";
import { signSealed } from "../src/gateway/signing.ts";
import { createRedis, type NodeRecord, type RegistryRedis } from "../src/registry/index.ts";
import { encodeRecord } from "../src/registry/keys.ts";
import { signRecord } from "../src/registry/record-signature.ts";
import type { NodeClient } from "../src/transport/index.ts";
import { TEST_AUTHORITY_KEY } from "./helpers/cluster.ts";
import { patternBytes } from "./helpers/data.ts";
import { type Cluster, type Gateway, http, SMALL_CHUNK, TEST_KEY, waitFor } from "./helpers/gateway.ts";
import {
  appendStored,
  chunkIds,
  copies,
  download,
  readStored,
  startHealTopology,
  stopHealTopology,
  upload,
  waitChunksCollected,
} from "./helpers/heal.ts";
import { testLogger } from "./helpers/registry.ts";

const PREFIX = "healsig:";
const cipher = new ChunkCipher(Buffer.from(TEST_KEY, "hex"));
const authority = signingKeyFromSeed(Buffer.from(TEST_AUTHORITY_KEY, "hex"));
const FAR = Date.now() + 10 * 365 * 86_400_000;
let cluster: Cluster;
let gw: Gateway;
let client: NodeClient;
let db: RegistryRedis;

before(async () => {
  ({ cluster, gw, client } = await startHealTopology(3, PREFIX, { DFS_NODE_CACHE: "0" }));
  db = createRedis(cluster.topology.redisConfig({ prefix: PREFIX }), testLogger());
});

after(async () => {
  await db?.close();
  await stopHealTopology({ cluster, gw, client });
});

const addrs = () => cluster.nodes.map((n) => n.addr);

/** Each node's copy under a manifest id: its type and stamp, and whether it carries a trailer. */
async function held(id: string): Promise<({ type: string; stamp: number; signed: boolean } | "none")[]> {
  return Promise.all(
    cluster.nodes.map(async (n) => {
      const body = await readStored(n.dataDir, "manifest", id);
      if (body === undefined) return "none";
      const h = parseManifestHeader(body);
      if (!h || "need" in h) return { type: "unreadable", stamp: 0, signed: false };
      return { type: h.type, stamp: h.stamp, signed: parseTrailer(body) !== undefined };
    }),
  );
}

async function putEverywhere(id: string, data: Buffer): Promise<unknown[]> {
  return Promise.all(
    addrs().map((addr) =>
      client.put(addr, id, data, data.length, { kind: "manifest", checksum: sha256Hex(data) }).then(
        () => "stored",
        (err: unknown) => err,
      ),
    ),
  );
}

/** A manifest with `data` inline, sealed as a gateway did before signing existed: no trailer. */
function unsignedManifest(data: Buffer, name: string): Buffer {
  return cipher.sealManifest({
    version: 1,
    hash: sha256Hex(data),
    size: data.length,
    name,
    contentType: "application/octet-stream",
    chunkBytes: SMALL_CHUNK,
    createdAt: Date.now(),
    chunks: [],
    inline: data.toString("base64"),
  });
}

/** Deletes a file through the gateway, waits for a signed tombstone on every node, checks the file is gone. */
async function deleteEverywhere(hash: string, id: string, what: string): Promise<void> {
  assert.equal((await http(gw.url, "DELETE", `/v1/files/${hash}`)).status, 204);
  await waitFor(
    async () => (await held(id)).every((c) => c !== "none" && c.type === "tombstone" && c.signed),
    10_000,
    what,
  );
  assert.equal(await download(gw.url, hash), 404);
}

/** Uploads `data` through the signing gateway and waits for its signed manifest on every node. */
async function uploadEverywhere(data: Buffer) {
  const f = await upload(gw.url, data);
  const id = cipher.manifestId(f.hash);
  const chunks = await chunkIds(gw.url, f.hash);
  await waitFor(
    async () => (await held(id)).every((c) => c !== "none" && c.type === "manifest" && c.signed),
    5000,
    "a signed manifest on every node",
  );
  return { f, id, chunks };
}

function nodeIdentity() {
  return issueIdentity(authority, "node", cluster.nodes[0]!.nodeId, Date.now(), 3_600_000).identity;
}

test("a far-future tombstone from anyone but a gateway never wins: refused at PUT, outranked in repair, chunks kept", async () => {
  const data = patternBytes(3 * SMALL_CHUNK + 5, 71);
  const { f, id, chunks } = await uploadEverywhere(data);

  // Written straight to every owner: unsigned (a process with no credential), and signed under a
  // node's credential. Both made with the cluster key, the worst case; the stamp ten years ahead.
  const forged = cipher.sealTombstone(f.hash, FAR);
  for (const attempt of [forged, signSealed(nodeIdentity(), id, forged)]) {
    for (const result of await putEverywhere(id, attempt)) {
      assert.ok(isDfsError(result, "DFS_ERR_FORBIDDEN"), `a forged tombstone was stored: ${String(result)}`);
    }
  }

  // A node that ignores the rules holds a forged copy anyway (written into its store while it was
  // stopped, so its digests show it): the far-future tombstone header, once with the manifest's
  // trailer (now badly signed), once with no trailer at all.
  const original = (await readStored(cluster.nodes[0]!.dataDir, "manifest", id))!;
  for (const unsigned of [false, true]) {
    const body = Buffer.from(original);
    body[1] = 2; // tombstone
    body.writeBigUInt64BE(BigInt(FAR), 2);
    body.writeUInt32BE(0, 10);
    if (unsigned) body.fill(0, body.length - 8);
    const victim = cluster.nodes[0]!;
    const port = Number(victim.addr.split(":").at(-1));
    await victim.stop("SIGTERM");
    await appendStored(victim.dataDir, "manifest", id, body);
    cluster.nodes[0] = await cluster.startNode(0, port);
    assert.deepEqual((await held(id))[0], { type: "tombstone", stamp: FAR, signed: !unsigned });
    // Repair on the other owners ranks only signed versions: they send the manifest back.
    await waitFor(
      async () => {
        const c = (await held(id))[0]!;
        return c !== "none" && c.type === "manifest" && c.signed;
      },
      15_000,
      "the forged copy replaced by the signed manifest",
    );
  }
  // Several repair and GC rounds later the file reads back whole and every chunk has its copies.
  await sleep(3000);
  assert.ok(((await download(gw.url, f.hash)) as Buffer).equals(data));
  const all = await copies(client, addrs());
  for (const chunk of chunks) assert.equal(all.get(`chunk:${chunk}`)?.length, 3, `chunk ${chunk} collected`);
  for (const c of await held(id)) assert.ok(c !== "none" && c.type === "manifest");
});

test("a signed delete still works: its tombstone spreads, the file is gone and its chunks collected", async () => {
  const { f, id, chunks } = await uploadEverywhere(patternBytes(2 * SMALL_CHUNK + 9, 72));
  const before = (await readStored(cluster.nodes[0]!.dataDir, "manifest", id))!;
  await deleteEverywhere(f.hash, id, "a signed tombstone on every node");
  // The manifest as it was, signed by the gateway, written back by a node replaying it: refused.
  for (const result of await putEverywhere(id, before)) {
    assert.ok(
      isDfsError(result, "DFS_ERR_FORBIDDEN"),
      `an older version replaced a newer one: ${String(result)}`,
    );
  }
  await waitChunksCollected(client, addrs, chunks, 15_000, "the deleted file's chunks collected");
});

test("manifests from before signing: readable, repaired where missing, never displaced by a forgery; a signed delete wins", async () => {
  // Sealed as a gateway did before signing existed: no trailer.
  const data = patternBytes(3000, 73); // inside its manifest
  const f = { hash: sha256Hex(data) };
  const id = cipher.manifestId(f.hash);
  const unsigned = unsignedManifest(data, "before.bin");
  for (const result of await putEverywhere(id, unsigned)) assert.equal(result, "stored");
  await waitFor(
    async () => (await held(id)).every((c) => c !== "none" && c.type === "manifest" && !c.signed),
    5000,
    "an unsigned manifest on every node",
  );
  assert.ok(((await download(gw.url, f.hash)) as Buffer).equals(data));

  // Another, written unsigned to two of the three nodes only (W of R): repair sends it to the
  // third, which holds nothing under its id.
  const other = patternBytes(2500, 75);
  const otherHash = sha256Hex(other);
  const otherId = cipher.manifestId(otherHash);
  const sealed = unsignedManifest(other, "older.bin");
  for (const addr of addrs().slice(0, 2)) {
    await client.put(addr, otherId, sealed, sealed.length, { kind: "manifest", checksum: sha256Hex(sealed) });
  }
  await waitFor(
    async () => (await held(otherId)).every((c) => c !== "none" && c.type === "manifest" && !c.signed),
    10_000,
    "the unsigned manifest repaired to the node that lacked it",
  );
  assert.ok(((await download(gw.url, otherHash)) as Buffer).equals(other));

  // An unsigned far-future tombstone may not replace it anywhere.
  for (const result of await putEverywhere(id, cipher.sealTombstone(f.hash, FAR))) {
    assert.ok(isDfsError(result, "DFS_ERR_FORBIDDEN"), `stored over an unsigned manifest: ${String(result)}`);
  }
  await sleep(1500);
  assert.ok(((await download(gw.url, f.hash)) as Buffer).equals(data));

  // A signed delete replaces it on every node.
  await deleteEverywhere(f.hash, id, "the signed tombstone everywhere");
});

test("node records without a valid signature, or claiming absurd capacity, get no traffic", async () => {
  let connections = 0;
  const trap: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(trap.address() as { port: number }).port}`;
  const record = (id: string, fields: Partial<NodeRecord> = {}): NodeRecord => ({
    id,
    addr,
    zone: "trap",
    capacityBytes: 2 ** 40,
    freeBytes: 2 ** 39,
    version: "0.1.0",
    startedAt: Date.now(),
    incarnation: 1,
    lastHeartbeat: Date.now(),
    heartbeatTtlMs: 2000,
    ...fields,
  });
  const plant = async (r: NodeRecord) => {
    await db.client
      .multi()
      .sadd(`${PREFIX}members`, r.id)
      .set(`${PREFIX}node:${r.id}`, encodeRecord(r))
      .set(`${PREFIX}hb:${r.id}`, "1", "PX", 2000)
      .publish(`${PREFIX}events`, r.id)
      .exec();
  };
  const huge = signRecord(
    issueIdentity(authority, "node", "huge", Date.now(), 3_600_000).identity,
    record("huge", { capacityBytes: 2 ** 60, freeBytes: 2 ** 59 }),
  );
  const beat = setInterval(() => {
    void plant(record("intruder", { lastHeartbeat: Date.now() }));
    void db.client.set(`${PREFIX}hb:huge`, "1", "PX", 2000);
  }, 300);
  try {
    await plant(record("intruder"));
    await plant(huge);
    // The gateway has read both records (it counts what it ignores) and lists neither.
    await waitFor(
      async () => {
        const metrics = (await http(gw.url, "GET", "/metrics")).body.toString("utf8");
        return Number(/^dfs_gateway_registry_rejected_records_total (\d+)/m.exec(metrics)?.[1] ?? 0) > 0;
      },
      5000,
      "the gateway counting the records it ignored",
    );
    assert.ok(await db.client.exists(`${PREFIX}node:intruder`), "the intruder's record is in Redis");
    const listed = (await http(gw.url, "GET", "/v1/nodes")).json as { nodes: { id: string }[] };
    assert.deepEqual(listed.nodes.map((n) => n.id).sort(), cluster.nodes.map((n) => n.nodeId).sort());
    // Uploads, downloads and repair rounds go on; none of it reaches the planted address.
    for (let i = 0; i < 8; i++) {
      const data = patternBytes(SMALL_CHUNK + 100 * i, 80 + i);
      const f = await upload(gw.url, data);
      assert.ok(((await download(gw.url, f.hash)) as Buffer).equals(data));
    }
    await sleep(2000);
    assert.equal(connections, 0, "traffic went to a node whose record did not verify");
  } finally {
    clearInterval(beat);
    await db.client.del(
      `${PREFIX}node:intruder`,
      `${PREFIX}node:huge`,
      `${PREFIX}hb:intruder`,
      `${PREFIX}hb:huge`,
    );
    await db.client.srem(`${PREFIX}members`, "intruder", "huge");
    trap.close();
  }
});

test("a forged far-future tombstone planted where nothing is held does not hide the file uploaded next", async () => {
  const data = patternBytes(5000, 74);
  const hash = sha256Hex(data);
  const id = cipher.manifestId(hash);
  // Nothing held under the id: the nodes take it unchecked (it replaces nothing).
  for (const result of await putEverywhere(id, cipher.sealTombstone(hash, FAR)))
    assert.equal(result, "stored");
  // The gateway refuses a stamp this far ahead of its clock: for it the file does not exist yet...
  assert.equal(await download(gw.url, hash), 404);
  // ...so the upload writes its signed manifest, which replaces the forged copy on every node.
  await upload(gw.url, data);
  assert.ok(((await download(gw.url, hash)) as Buffer).equals(data));
  await waitFor(
    async () => (await held(id)).every((c) => c !== "none" && c.type === "manifest" && c.signed),
    10_000,
    "the signed manifest on every node",
  );
});
