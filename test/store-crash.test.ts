import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ObjectStore } from "../src/node/store/index.ts";
import { patternBytes, readAll, sha256 } from "./helpers/data.ts";
import { REPO_ROOT, startProcess } from "./helpers/proc.ts";
import { writesInProgress } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const FIXTURE = join(REPO_ROOT, "test/fixtures/store-half-write.ts");

test("a process SIGKILLed in the middle of a write leaves no partial object", async () => {
  const dir = await makeTempDir();
  const proc = startProcess([FIXTURE, dir.path]);
  try {
    const line = await proc.waitForLog((l) => l.msg === "half written");
    const keptId = String(line.keptId);
    const chunkId = String(line.chunkId);
    const manifestId = String(line.manifestId);

    // The half-written bytes really are on disk, beside the objects they would become, before the kill.
    const pending = await writesInProgress(dir.path);
    assert.deepEqual(
      pending.map((p) => p.split("/")[0]),
      ["chunks", "manifests"],
      `a chunk and a manifest in progress, got ${pending.join(", ")}`,
    );
    const sizes = await Promise.all(pending.map(async (p) => (await stat(join(dir.path, p))).size));
    assert.ok(
      sizes.some((s) => s === 2 * 1024 * 1024),
      `half of the chunk written: ${sizes.join(", ")}`,
    );

    await proc.stop("SIGKILL");
    assert.equal((await proc.exited).signal, "SIGKILL");

    const store = await ObjectStore.open({
      dataDir: dir.path,
      fsync: true,
      reserveBytes: 0,
      capacityBytes: 0,
      maxObjectBytes: 64 * 1024 * 1024,
    });
    try {
      assert.equal(store.nodeId, line.nodeId, "node id kept");
      assert.deepEqual(await writesInProgress(dir.path), [], "writes in progress removed on open");
      assert.equal(await store.has("chunk", chunkId), false);
      assert.equal(await store.has("manifest", manifestId), false);
      assert.deepEqual(await store.list("chunk"), { ids: [keptId] });
      assert.deepEqual(await store.list("manifest"), { ids: [] });
      const stats = await store.stats();
      assert.equal(stats.chunkCount, 1);
      assert.equal(stats.manifestCount, 0);
      assert.equal(stats.storedBytes, 300_000);

      // The object committed before the kill is whole.
      const { body } = await store.createReader("chunk", keptId);
      assert.ok((await readAll(body)).equals(patternBytes(300_000, 5)));
      assert.equal(await store.verify("chunk", keptId), true);

      // And the interrupted object can be written again from scratch.
      const chunk = patternBytes(4 * 1024 * 1024, 6);
      assert.equal(sha256(chunk), chunkId);
      const w = await store.createWriter({ kind: "chunk", id: chunkId, size: chunk.length });
      w.write(chunk);
      await w.commit();
      assert.equal(await store.verify("chunk", chunkId), true);
    } finally {
      await store.close();
    }
  } finally {
    await proc.stop("SIGKILL");
    await dir.remove();
  }
});
