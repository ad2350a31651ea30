/**
 * A data folder written by older code starts under today's: test/fixtures/upgrade/ holds the data
 * folders of three nodes as commit files.json's `writtenBy` left them (make-upgrade-fixture.ts):
 * chunk files, packs, manifests, tombstones, chunks shared between files. Today's nodes start on
 * copies, every file reads back, and the chunk references are built, so garbage collection frees
 * what a delete leaves and keeps what another file shares.
 */
import assert from "node:assert/strict";
import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CHUNK_REFS_TABLE, parseChunkRef } from "../src/formats/index.ts";
import { patternBytes } from "./helpers/data.ts";
import { http, TEST_KEY, waitFor } from "./helpers/gateway.ts";
import {
  chunkIds,
  copies,
  download,
  type HealTopology,
  startHealTopology,
  stopHealTopology,
  waitChunksCollected,
} from "./helpers/heal.ts";
import { REPO_ROOT } from "./helpers/proc.ts";

const FIXTURE = join(REPO_ROOT, "test", "fixtures", "upgrade");

interface FixtureFile {
  seed: number;
  size: number;
  sharedBytes?: number;
  deleted?: boolean;
  hash: string;
}

/** The bytes make-upgrade-fixture.ts uploaded for `f`. */
function bytesOf(f: FixtureFile): Buffer {
  const own = patternBytes(f.size, f.seed);
  if (f.sharedBytes) patternBytes(f.sharedBytes, 1).copy(own, 0);
  return own;
}

describe("a data folder from older code", { concurrency: false }, () => {
  let t: HealTopology;
  let files: FixtureFile[];
  before(async () => {
    const fixture = JSON.parse(await readFile(join(FIXTURE, "files.json"), "utf8")) as {
      clusterKey: string;
      files: FixtureFile[];
    };
    assert.equal(fixture.clusterKey, TEST_KEY, "the fixture was sealed under the tests' cluster key");
    files = fixture.files;
    t = await startHealTopology(3, "dfs-upgrade", {}, (dataDir, i) =>
      cp(join(FIXTURE, `node-${i}`), dataDir, { recursive: true }),
    );
  });
  after(async () => {
    await stopHealTopology(t ?? {});
  });
  const addrs = () => t.cluster.nodes.map((n) => n.addr);

  test("every file reads back byte for byte; deleted files stay deleted", async () => {
    for (const f of files) {
      const got = await download(t.gw.url, f.hash);
      if (f.deleted) assert.equal(got, 404, `file ${f.seed} was deleted`);
      else assert.ok(Buffer.isBuffer(got) && got.equals(bytesOf(f)), `file ${f.seed} reads back`);
    }
  });

  test("references are built: a shared chunk is referenced by both files, and deleting one frees only its own", async () => {
    const one = files.find((f) => f.seed === 1)!;
    const two = files.find((f) => f.seed === 2)!;
    const oneIds = await chunkIds(t.gw.url, one.hash);
    const twoIds = await chunkIds(t.gw.url, two.hash);
    const shared = twoIds.filter((id) => oneIds.includes(id));
    const onlyTwo = twoIds.filter((id) => !oneIds.includes(id));
    assert.equal(shared.length, 2);
    assert.ok(onlyTwo.length > 0);
    await waitFor(
      async () => {
        const got = await t.client.tableRead(addrs()[0]!, {
          mode: "range",
          table: CHUNK_REFS_TABLE,
          partitionKey: Buffer.from(shared[0]!, "hex"),
          after: undefined,
          from: undefined,
          prefix: undefined,
          limit: 100,
          includeDeleted: false,
        });
        const manifests = new Set(
          got.entries.map((e) => {
            const ref = parseChunkRef({ table: CHUNK_REFS_TABLE, partitionKey: Buffer.alloc(32), ...e });
            return ref?.kind === "manifest" ? ref.manifestId : undefined;
          }),
        );
        return manifests.size === 2 && !manifests.has(undefined);
      },
      20_000,
      "the shared chunk's references from both manifests built",
    );

    assert.equal((await http(t.gw.url, "DELETE", `/v1/files/${two.hash}`)).status, 204);
    await waitChunksCollected(t.client, addrs, onlyTwo, 20_000, "file 2's own chunks collected");
    await sleep(2000);
    const held = await copies(t.client, addrs());
    for (const id of oneIds)
      assert.equal(held.get(`chunk:${id}`)?.length, 3, `chunk ${id} of file 1 was collected`);
    const got = await download(t.gw.url, one.hash);
    assert.ok(Buffer.isBuffer(got) && got.equals(bytesOf(one)), "file 1 reads back");
  });
});
