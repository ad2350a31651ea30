/**
 * Garbage collection during a rolling upgrade: a chunk whose references are all retracted is
 * collected only once every live node's registry record says "refs" (it built the references of
 * the manifests it holds), since a manifest held only by an older node has none yet. A real store
 * and real tables in a temp directory; the membership is given as the registry would report it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CHUNK_REFS_TABLE, HybridClock, manifestRef } from "../src/formats/index.ts";
import { newCounters } from "../src/node/heal/counters.ts";
import { GarbageCollector } from "../src/node/heal/gc.ts";
import { GraceMembers } from "../src/node/heal/members.ts";
import { nodeFeatures } from "../src/node/storage-node.ts";
import { ObjectStore } from "../src/node/store/index.ts";
import { TableStore } from "../src/node/tables/index.ts";
import type { NodeInfo } from "../src/registry/index.ts";
import type { NodeClient } from "../src/transport/index.ts";
import { testLogger } from "./helpers/registry.ts";
import { putChunk, storeOptions } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let store: ObjectStore;
let tables: TableStore;
const clock = new HybridClock();

before(async () => {
  dir = await makeTempDir("dfs-gc-upgrade-");
  store = await ObjectStore.open(storeOptions(join(dir.path, "data")));
  tables = await TableStore.open({ path: join(dir.path, "tables.mdb"), clock });
});

after(async () => {
  await tables.close();
  await store.close();
  await dir.remove();
});

function node(addr: string, features: string[] | undefined): NodeInfo {
  return {
    id: `id-${addr}`,
    addr,
    zone: "z",
    capacityBytes: 1e12,
    state: "live",
    lastHeartbeatAgeMs: 0,
    ...(features && { features }),
  } as NodeInfo;
}

/** A chunk whose one manifest reference was written, then retracted. */
async function retractedChunk(): Promise<string> {
  const id = await putChunk(store, randomBytes(2048));
  const ref = manifestRef("ab".repeat(32), "cd".repeat(32));
  const write = (deleted: boolean) =>
    tables.apply([
      {
        table: CHUNK_REFS_TABLE,
        partitionKey: Buffer.from(id, "hex"),
        sortKey: ref.sortKey,
        value: deleted ? Buffer.alloc(0) : ref.value,
        deleted,
        version: { hlc: clock.now(), writer: "test" },
      },
    ]);
  await write(false);
  await write(true);
  return id;
}

const gc = () =>
  new GarbageCollector({
    store,
    tables,
    nodes: {} as NodeClient,
    self: "127.0.0.1:1",
    gcGraceMs: 0,
    tombstoneGraceMs: 3_600_000,
    counters: newCounters(),
    logger: testLogger(),
    signal: new AbortController().signal,
  });

test("a retracted chunk waits while a live node has not built its references, then goes", async () => {
  const id = await retractedChunk();
  const members = new GraceMembers(60_000);
  const collector = gc();
  const self = node("127.0.0.1:1", nodeFeatures(true));

  // An older node (its record names no features) and a node still building: both hold chunks back.
  for (const other of [node("127.0.0.1:2", undefined), node("127.0.0.1:2", nodeFeatures(false))]) {
    const m = members.update([self, other]);
    assert.deepEqual([...(m.withoutRefs ?? [])], ["127.0.0.1:2"]);
    await collector.round(m, false);
    assert.equal(await store.has("chunk", id), true, "kept while a live node lacks references");
  }
  // A stale view holds it back too: who is live is not known.
  await collector.round(members.update([self, node("127.0.0.1:2", nodeFeatures(true))]), true);
  assert.equal(await store.has("chunk", id), true, "kept while the view is stale");

  await collector.round(members.update([self, node("127.0.0.1:2", nodeFeatures(true))]), false);
  assert.equal(await store.has("chunk", id), false, "collected once every live node has built them");
});
