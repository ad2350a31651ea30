/**
 * Buckets and keys through two gateways (a `dfs gateway` process and one in this process) over a
 * real Redis Sentinel topology and three `dfs node` processes: what one gateway acknowledges, the
 * other reads at once. Every answer is checked against openapi.yaml by the `http` helper.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Problem } from "../src/api/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  startGatewayProcess,
  waitLive,
} from "./helpers/gateway.ts";

let cluster: Cluster;
let a: Gateway;
let b: Gateway;

before(async () => {
  cluster = await startCluster(3, "names:");
  const [pa, pb] = await Promise.allSettled([
    startGatewayProcess(cluster, ["--chunk-size", String(SMALL_CHUNK)]),
    startGatewayInProcess(cluster, { "chunk-size": String(SMALL_CHUNK) }),
  ]);
  if (pa.status === "fulfilled") a = pa.value;
  if (pb.status === "fulfilled") b = pb.value;
  for (const p of [pa, pb]) if (p.status === "rejected") throw p.reason;
  await Promise.all([waitLive(a.url, 3), waitLive(b.url, 3)]);
});

after(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await cluster?.stop();
});

const md5 = (data: Buffer) => createHash("md5").update(data).digest("hex");
const objectPath = (bucket: string, key: string) =>
  `/v1/buckets/${bucket}/objects/${encodeURIComponent(key)}`;

interface Entry {
  key: string;
  size: number;
  etag: string;
  sha256: string;
  contentType: string;
  userMeta: Record<string, string>;
}

async function mb(gw: Gateway, bucket: string): Promise<void> {
  const res = await http(gw.url, "PUT", `/v1/buckets/${bucket}`);
  assert.equal(res.status, 201);
}

async function put(
  gw: Gateway,
  bucket: string,
  key: string,
  data: Buffer,
  headers: Record<string, string> = {},
) {
  return http(gw.url, "PUT", objectPath(bucket, key), {
    body: data,
    headers: { "content-type": "application/octet-stream", ...headers },
  });
}

function code(res: { json: unknown }): string {
  return (res.json as Problem).code;
}

describe("buckets", () => {
  test("create, list, exists (409), delete when empty (409 while not), 404 after", async () => {
    await mb(a, "alpha-bucket");
    const again = await http(b.url, "PUT", "/v1/buckets/alpha-bucket");
    assert.equal(again.status, 409);
    assert.equal(code(again), "DFS_ERR_BUCKET_EXISTS");
    const list = await http(b.url, "GET", "/v1/buckets");
    const names = (list.json as { buckets: { name: string }[] }).buckets.map((x) => x.name);
    assert.ok(names.includes("alpha-bucket"));
    assert.equal((await put(a, "alpha-bucket", "k", Buffer.from("x"))).status, 201);
    const full = await http(b.url, "DELETE", "/v1/buckets/alpha-bucket");
    assert.equal(full.status, 409);
    assert.equal(code(full), "DFS_ERR_BUCKET_NOT_EMPTY");
    assert.equal((await http(b.url, "DELETE", objectPath("alpha-bucket", "k"))).status, 204);
    assert.equal((await http(b.url, "DELETE", "/v1/buckets/alpha-bucket")).status, 204);
    const gone = await http(a.url, "GET", "/v1/buckets/alpha-bucket/objects");
    assert.equal(gone.status, 404);
    assert.equal(code(gone), "DFS_ERR_NO_SUCH_BUCKET");
    const putGone = await put(a, "alpha-bucket", "k", Buffer.from("x"));
    assert.equal(putGone.status, 404);
    assert.equal(code(putGone), "DFS_ERR_NO_SUCH_BUCKET");
  });

  test("a PUT racing the delete of its bucket: never a key left in a deleted bucket", async () => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 24; i++) {
      const bucket = `race-bucket-${i}`;
      await mb(a, bucket);
      const offset = (i % 12) - 4; // the delete starts from 4 ms before the put to 7 ms after
      const [del, putRes] = await Promise.all([
        (async () => {
          await delay(Math.max(0, offset));
          return http(a.url, "DELETE", `/v1/buckets/${bucket}`);
        })(),
        (async () => {
          await delay(Math.max(0, -offset));
          return put(b, bucket, "k", Buffer.from(`round ${i}`));
        })(),
      ]);
      const outcome = `${del.status}/${putRes.status}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      // Each side may see the other (the bucket comes back, empty), never neither.
      assert.ok(
        ["409/201", "204/404", "409/404"].includes(outcome),
        `round ${i}: delete ${del.status}, put ${putRes.status}`,
      );
      if (del.status === 204) await mb(a, bucket);
      const key = await http(a.url, "GET", objectPath(bucket, "k"));
      if (putRes.status === 201) {
        assert.ok(key.body.equals(Buffer.from(`round ${i}`)), `round ${i}: the key`);
        assert.equal((await http(a.url, "DELETE", objectPath(bucket, "k"))).status, 204);
      } else {
        assert.equal(key.status, 404, `round ${i}: nothing left of the refused put`);
        const listed = await http(b.url, "GET", `/v1/buckets/${bucket}/objects`);
        assert.deepEqual((listed.json as { objects: unknown[] }).objects, []);
      }
      assert.equal((await http(a.url, "DELETE", `/v1/buckets/${bucket}`)).status, 204);
    }
    assert.ok(outcomes.size > 0);
  });

  test("bad bucket names and keys are 400 DFS_ERR_INVALID_NAME, and nothing is made", async () => {
    for (const name of ["ab", "UPPER", "-dash", "dots..dots", "192.168.1.1", "x".repeat(64), "under_score"]) {
      const res = await http(a.url, "PUT", `/v1/buckets/${encodeURIComponent(name)}`);
      assert.equal(res.status, 400, name);
      assert.equal(code(res), "DFS_ERR_INVALID_NAME", name);
    }
    await mb(a, "names-ok");
    const long = await put(a, "names-ok", "k".repeat(1025), Buffer.from("x"));
    assert.equal(long.status, 400);
    assert.equal(code(long), "DFS_ERR_INVALID_NAME");
    const listed = await http(b.url, "GET", "/v1/buckets/names-ok/objects");
    assert.deepEqual((listed.json as { objects: unknown[] }).objects, []);
  });
});

describe("keys", () => {
  before(async () => {
    await mb(a, "keys");
  });

  test("PUT through one gateway; GET, HEAD and the listing through the other; bytes exact", async () => {
    for (const size of [0, 1, 100, SMALL_CHUNK, 3 * SMALL_CHUNK + 7]) {
      const data = patternBytes(size, size + 3);
      const key = `dir/ä ${size}.bin`;
      const res = await put(a, "keys", key, data, { "content-type": "text/plain", "x-meta-colour": "blue" });
      assert.equal(res.status, 201);
      const entry = res.json as Entry;
      assert.equal(entry.sha256, sha256(data));
      assert.equal(entry.etag, md5(data));
      assert.equal(res.headers.etag, `"${md5(data)}"`);
      const got = await http(b.url, "GET", objectPath("keys", key));
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(data), `bytes of ${size}`);
      assert.equal(got.headers["content-type"], "text/plain");
      assert.equal(got.headers["x-meta-colour"], "blue");
      assert.equal(got.headers["x-dfs-sha256"], sha256(data));
      const head = await http(b.url, "HEAD", objectPath("keys", key));
      assert.equal(head.headers["content-length"], String(size));
      // The same file by hash.
      const byHash = await http(b.url, "GET", `/v1/files/${sha256(data)}`);
      assert.ok(byHash.body.equals(data));
    }
    const listed = await http(b.url, "GET", "/v1/buckets/keys/objects?prefix=dir%2F");
    const keys = (listed.json as { objects: Entry[] }).objects.map((o) => o.key);
    assert.deepEqual(
      keys,
      [0, 1, 100, SMALL_CHUNK, 3 * SMALL_CHUNK + 7]
        .map((s) => `dir/ä ${s}.bin`)
        .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
  });

  test("Range, If-None-Match (304), If-Match (412), Content-MD5 mismatch (400, old version kept)", async () => {
    const data = patternBytes(2 * SMALL_CHUNK + 11, 4);
    await put(a, "keys", "ranged", data);
    const part = await http(b.url, "GET", objectPath("keys", "ranged"), {
      headers: { range: `bytes=${SMALL_CHUNK - 5}-${SMALL_CHUNK + 4}` },
    });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(data.subarray(SMALL_CHUNK - 5, SMALL_CHUNK + 5)));
    const fresh = await http(b.url, "GET", objectPath("keys", "ranged"), {
      headers: { "if-none-match": `"${md5(data)}"` },
    });
    assert.equal(fresh.status, 304);
    const stale = await http(b.url, "GET", objectPath("keys", "ranged"), {
      headers: { "if-match": '"0123"' },
    });
    assert.equal(stale.status, 412);
    assert.equal(code(stale), "DFS_ERR_PRECONDITION");
    const bad = await put(a, "keys", "ranged", Buffer.from("other bytes"), {
      "content-md5": createHash("md5").update("not these").digest("base64"),
    });
    assert.equal(bad.status, 400);
    assert.equal(code(bad), "DFS_ERR_BAD_DIGEST");
    const still = await http(b.url, "GET", objectPath("keys", "ranged"));
    assert.ok(still.body.equals(data), "the failed PUT left the old version");
  });

  test("overwrite and delete are seen at once by the other gateway; copy names the same file", async () => {
    const one = Buffer.from("version one");
    const two = Buffer.from("version two, longer");
    await put(a, "keys", "over", one);
    await put(a, "keys", "over", two);
    assert.ok((await http(b.url, "GET", objectPath("keys", "over"))).body.equals(two));
    const copied = await http(
      b.url,
      "PUT",
      `${objectPath("keys", "copy")}?copyFrom=${encodeURIComponent("keys/over")}`,
    );
    assert.equal(copied.status, 201);
    assert.equal((copied.json as Entry).sha256, sha256(two));
    assert.equal((await http(b.url, "DELETE", objectPath("keys", "over"))).status, 204);
    const gone = await http(a.url, "GET", objectPath("keys", "over"));
    assert.equal(gone.status, 404);
    assert.equal(code(gone), "DFS_ERR_NO_SUCH_KEY");
    assert.equal((await http(a.url, "DELETE", objectPath("keys", "over"))).status, 404);
    assert.ok(
      (await http(a.url, "GET", objectPath("keys", "copy"))).body.equals(two),
      "the copy still holds the file",
    );
  });

  test("concurrent PUTs of one key: the last version reads; the files of the others are released", async () => {
    const files = Array.from({ length: 8 }, (_, i) => patternBytes(SMALL_CHUNK + i, 700 + i));
    await Promise.all(files.map((data, i) => put(i % 2 === 0 ? a : b, "keys", "contended", data)));
    const got = await http(a.url, "GET", objectPath("keys", "contended"));
    const winner = files.findIndex((f) => f.equals(got.body));
    assert.ok(winner >= 0, "one of the versions");
    for (const [i, data] of files.entries()) {
      const byHash = await http(b.url, "GET", `/v1/files/${sha256(data)}`);
      assert.equal(byHash.status, i === winner ? 200 : 404, `version ${i}`);
    }
  });

  test("the hash API and keys hold a file together: DELETE by hash keeps a file a key holds", async () => {
    const data = patternBytes(2 * SMALL_CHUNK, 77);
    const hash = sha256(data);
    const up = await http(a.url, "PUT", "/v1/files", { body: data });
    assert.equal(up.status, 201);
    await put(a, "keys", "shared", data);
    assert.equal((await http(b.url, "DELETE", `/v1/files/${hash}`)).status, 204);
    assert.ok(
      (await http(b.url, "GET", `/v1/files/${hash}`)).body.equals(data),
      "a key holds it: still readable by hash",
    );
    assert.ok((await http(b.url, "GET", objectPath("keys", "shared"))).body.equals(data));
    assert.equal((await http(a.url, "DELETE", objectPath("keys", "shared"))).status, 204);
    assert.equal((await http(b.url, "GET", `/v1/files/${hash}`)).status, 404, "nothing holds it now");
  });
});
