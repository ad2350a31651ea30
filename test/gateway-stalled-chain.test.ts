/**
 * A stalled head of a chain PUT (SIGSTOP: its connections stay open, its heartbeat lives on for a
 * while) must not hold up an upload: the gateway sends the copies straight to the other owners once
 * the chain has been silent for its learnt delay, and the upload answers at W.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { FileCreated } from "../src/api/index.ts";
import { ChunkCipher } from "../src/crypto/index.ts";
import { Placement, type PlacementNode } from "../src/placement/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  TEST_KEY,
  waitLive,
} from "./helpers/gateway.ts";

let cluster: Cluster;
let g: Gateway;

before(async () => {
  cluster = await startCluster(3, "gwchain:");
  g = await startGatewayInProcess(cluster, { "chunk-size": String(SMALL_CHUNK), "inline-max": "0" });
  await waitLive(g.url, 3);
});

after(async () => {
  await g?.stop();
  await cluster?.stop();
});

test("a stalled chain head: the upload answers at W within seconds, the file reads back", async () => {
  const { nodes } = (await http(g.url, "GET", "/v1/nodes")).json as { nodes: PlacementNode[] };
  const placement = new Placement(nodes);
  const cipher = new ChunkCipher(Buffer.from(TEST_KEY, "hex"));
  // Warm the learnt chain delay up with healthy uploads first (16 answers).
  for (let i = 0; i < 16; i++) {
    assert.equal(
      (await http(g.url, "PUT", "/v1/files", { body: patternBytes(SMALL_CHUNK, 300 + i) })).status,
      201,
    );
  }
  // One whole chunk (sealed, it is past the size sent straight): a chain, whose head is node 0.
  const head = cluster.nodes[0]!;
  let data: Buffer | undefined;
  for (let seed = 400; seed < 480 && !data; seed++) {
    const candidate = patternBytes(SMALL_CHUNK, seed);
    if (placement.order(cipher.seal(candidate).chunkId)[0]?.addr === head.addr) data = candidate;
  }
  assert.ok(data, "no chunk found whose chain starts at node 0");
  process.kill(head.proc.pid, "SIGSTOP");
  try {
    const started = performance.now();
    const res = await Promise.race([http(g.url, "PUT", "/v1/files", { body: data }), delay(8000, undefined)]);
    const took = performance.now() - started;
    assert.ok(res, "the upload waited for the stalled head");
    assert.equal(res.status, 201);
    assert.equal((res.json as FileCreated).replicas, 2);
    assert.ok(took < 8000, `took ${took} ms`);
    const got = await http(g.url, "GET", `/v1/files/${sha256(data)}`);
    assert.ok(got.body.equals(data));
  } finally {
    process.kill(head.proc.pid, "SIGCONT");
  }
});
