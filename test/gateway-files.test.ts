/**
 * The gateway end to end: a real Redis Sentinel topology, three real `dfs node` processes, a real
 * `dfs gateway` process and a second gateway in this process, undici as the client. Every answer is
 * checked against openapi.yaml by the `http` helper.
 */

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import type { FileCreated, FileMeta, Problem } from "../src/api/index.ts";
import { patternBytes, sha256, streamOf } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  multipart,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  startGatewayProcess,
  waitFor,
  waitLive,
} from "./helpers/gateway.ts";

let cluster: Cluster;
let a: Gateway; // a `dfs gateway` process, 64 KiB chunks
let b: Gateway; // in this process, 64 KiB chunks, small upload limit

const MAX_UPLOAD_B = 1024 * 1024;
const INLINE_MAX = 16 * 1024;

/** Successful node requests of the gateway `gw` so far, by operation and object kind. */
async function nodeOps(gw: Gateway, op: string, kind: string): Promise<number> {
  const text = (await http(gw.url, "GET", "/metrics")).body.toString();
  const m = new RegExp(`dfs_gateway_node_ops_total\\{op="${op}",kind="${kind}",result="ok"\\} (\\d+)`).exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

before(async () => {
  cluster = await startCluster(3, "gwfiles:");
  // allSettled, so that one failing to start still leaves the other to be stopped in after().
  const [pa, pb] = await Promise.allSettled([
    startGatewayProcess(cluster, ["--chunk-size", String(SMALL_CHUNK)]),
    startGatewayInProcess(cluster, { "chunk-size": String(SMALL_CHUNK), "max-upload": String(MAX_UPLOAD_B) }),
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

async function post(gw: Gateway, data: Buffer, name = "file.bin", type = "application/octet-stream") {
  return http(gw.url, "POST", "/v1/files", { body: multipart(data, name, type) });
}

async function put(gw: Gateway, data: Buffer, query = "") {
  return http(gw.url, "PUT", `/v1/files${query}`, {
    body: data,
    headers: { "content-type": "application/octet-stream" },
  });
}

describe("upload and download", () => {
  const C = SMALL_CHUNK;
  const sizes = [0, 1, C - 1, C, C + 1, 10 * C + 7];
  for (const size of sizes) {
    test(`${size} bytes: POST and PUT give sha256 of the bytes; GET returns them`, async () => {
      const data = patternBytes(size, size + 11);
      const posted = await post(a, data, `f-${size}.bin`);
      assert.ok(posted.status === 201 || posted.status === 200, `status ${posted.status}`);
      const body = posted.json as FileCreated;
      assert.equal(body.hash, sha256(data));
      assert.equal(body.size, size);
      // Files up to 16 KiB (the default inlineMaxBytes) live inside their manifest.
      assert.equal(body.chunks, size <= INLINE_MAX ? 0 : Math.ceil(size / C));
      assert.ok(body.replicas >= 2);
      const putted = await put(b, data);
      assert.equal(putted.status, 200, "the same bytes again: the file exists already");
      assert.equal((putted.json as FileCreated).hash, body.hash);

      for (const gw of [a, b]) {
        const got = await http(gw.url, "GET", `/v1/files/${body.hash}`);
        assert.equal(got.status, 200);
        assert.equal(got.body.length, size);
        assert.ok(got.body.equals(data), "same bytes");
        assert.equal(got.headers.etag, `"${body.hash}"`);
        assert.equal(got.headers["content-length"], String(size));
        assert.equal(got.headers["accept-ranges"], "bytes");
        assert.equal(got.headers["content-disposition"], `attachment; filename="f-${size}.bin"`);
      }
    });
  }

  test("PUT takes the name from ?name= and the type from Content-Type", async () => {
    const data = Buffer.from("put with a name and a type\n");
    const res = await http(a.url, "PUT", "/v1/files?name=n%C3%A4me.txt", {
      body: data,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
    assert.equal(res.status, 201);
    const created = res.json as FileCreated;
    assert.equal(created.name, "näme.txt");
    assert.equal(created.contentType, "text/plain; charset=utf-8");
    assert.equal(res.headers.location, `/v1/files/${created.hash}`);
    const got = await http(b.url, "GET", `/v1/files/${created.hash}`);
    assert.equal(got.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(
      got.headers["content-disposition"],
      "attachment; filename=\"n_me.txt\"; filename*=UTF-8''n%C3%A4me.txt",
    );
    assert.equal(got.headers["x-content-type-options"], "nosniff");
  });

  test("a raw PUT streamed in pieces, without Content-Length", async () => {
    const data = patternBytes(3 * SMALL_CHUNK + 5, 99);
    const res = await http(a.url, "PUT", "/v1/files", { body: streamOf(data, 10_000) });
    assert.equal(res.status, 201);
    assert.equal((res.json as FileCreated).hash, sha256(data));
    assert.equal((res.json as FileCreated).contentType, "application/octet-stream");
  });

  test("Range, HEAD, ETag and If-None-Match", async () => {
    const C = SMALL_CHUNK;
    const data = patternBytes(4 * C + 100, 5);
    const hash = ((await post(a, data)).json as FileCreated).hash;
    const cases: [string, number, number][] = [
      [`bytes=0-0`, 0, 0],
      [`bytes=${C - 10}-${C + 9}`, C - 10, C + 9], // across a chunk boundary
      [`bytes=${C - 1}-${3 * C}`, C - 1, 3 * C], // across three boundaries
      [`bytes=${2 * C}-`, 2 * C, data.length - 1],
      [`bytes=-50`, data.length - 50, data.length - 1],
      [`bytes=10-99999999`, 10, data.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await http(b.url, "GET", `/v1/files/${hash}`, { headers: { range } });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers["content-range"], `bytes ${start}-${end}/${data.length}`);
      assert.equal(res.headers["content-length"], String(end - start + 1));
      assert.ok(res.body.equals(data.subarray(start, end + 1)), range);
    }
    const unsatisfiable = await http(b.url, "GET", `/v1/files/${hash}`, {
      headers: { range: `bytes=${data.length}-` },
    });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers["content-range"], `bytes */${data.length}`);
    assert.equal((unsatisfiable.json as Problem).code, "DFS_ERR_RANGE");

    const head = await http(a.url, "HEAD", `/v1/files/${hash}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String(data.length));
    assert.equal(head.headers.etag, `"${hash}"`);
    assert.equal(head.body.length, 0);

    const cached = await http(a.url, "GET", `/v1/files/${hash}`, {
      headers: { "if-none-match": `"${hash}"` },
    });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);
    const stale = await http(a.url, "GET", `/v1/files/${hash}`, { headers: { "if-none-match": '"other"' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, data.length);
  });

  test("a small file is stored inside its manifest: one object, no chunk; one byte more is chunked", async () => {
    // Small objects go straight to each of the R = 3 owners (one node request each), large ones
    // down a chain (one request in all).
    const data = patternBytes(INLINE_MAX, 8);
    const [chunkPuts, manifestPuts] = [await nodeOps(a, "put", "chunk"), await nodeOps(a, "put", "manifest")];
    const created = (await put(a, data, "?name=small.bin")).json as FileCreated;
    assert.equal(created.chunks, 0);
    // The answer comes once W = 2 copies are stored; the third may land just after it.
    await waitFor(async () => (await nodeOps(a, "put", "manifest")) >= manifestPuts + 3, 5000, "3 copies");
    assert.equal(await nodeOps(a, "put", "chunk"), chunkPuts, "no chunk written");
    assert.equal(
      await nodeOps(a, "put", "manifest"),
      manifestPuts + 3,
      "one manifest written, straight to each owner",
    );
    const meta = (await http(b.url, "GET", `/v1/files/${created.hash}/meta`)).json as FileMeta;
    assert.equal(meta.inline, true);
    assert.deepEqual(meta.chunks, []);
    assert.ok((await http(b.url, "GET", `/v1/files/${created.hash}`)).body.equals(data));
    const range = await http(b.url, "GET", `/v1/files/${created.hash}`, {
      headers: { range: "bytes=100-199" },
    });
    assert.equal(range.status, 206);
    assert.ok(range.body.equals(data.subarray(100, 200)));

    const larger = patternBytes(INLINE_MAX + 1, 8);
    const chunked = (await put(a, larger)).json as FileCreated;
    assert.equal(chunked.chunks, 1);
    await waitFor(async () => (await nodeOps(a, "put", "chunk")) >= chunkPuts + 3, 5000, "3 chunk copies");
    assert.equal(await nodeOps(a, "put", "chunk"), chunkPuts + 3, "a small chunk, straight to each owner");
    assert.ok((await http(b.url, "GET", `/v1/files/${chunked.hash}`)).body.equals(larger));

    const full = patternBytes(2 * SMALL_CHUNK, 9);
    assert.equal(((await put(a, full)).json as FileCreated).chunks, 2);
    assert.equal(await nodeOps(a, "put", "chunk"), chunkPuts + 5, "two full chunks, a chain each");
    assert.ok((await http(b.url, "GET", `/v1/files/${sha256(full)}`)).body.equals(full));
  });

  test("meta lists every chunk and the nodes that hold it", async () => {
    const data = patternBytes(2 * SMALL_CHUNK + 1, 77);
    const hash = ((await post(a, data, "meta.bin")).json as FileCreated).hash;
    const res = await http(b.url, "GET", `/v1/files/${hash}/meta`);
    assert.equal(res.status, 200);
    const meta = res.json as FileMeta;
    assert.equal(meta.size, data.length);
    assert.equal(meta.name, "meta.bin");
    assert.equal(meta.chunkBytes, SMALL_CHUNK);
    assert.deepEqual(
      meta.chunks.map((c) => c.size),
      [SMALL_CHUNK, SMALL_CHUNK, 1],
    );
    const addrs = new Set(cluster.nodes.map((n) => n.addr));
    for (const c of meta.chunks) {
      assert.equal(c.nodes.length, 3, "R = 3 copies with 3 live nodes");
      for (const addr of c.nodes) assert.ok(addrs.has(addr));
    }
  });

  test("concurrent uploads of the same bytes all succeed with the same hash", async () => {
    const data = patternBytes(5 * SMALL_CHUNK + 3, 1234);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 === 0 ? post(i % 4 === 0 ? a : b, data) : put(i % 3 === 0 ? a : b, data),
      ),
    );
    for (const r of results) {
      assert.ok(r.status === 201 || r.status === 200, `status ${r.status} ${JSON.stringify(r.json)}`);
      assert.equal((r.json as FileCreated).hash, sha256(data));
    }
    const got = await http(a.url, "GET", `/v1/files/${sha256(data)}`);
    assert.ok(got.body.equals(data));
  });

  test("delete: 204, then 404 from every gateway; a second delete is 404", async () => {
    const data = Buffer.from("to be deleted\n");
    const hash = ((await put(a, data)).json as FileCreated).hash;
    assert.equal((await http(b.url, "GET", `/v1/files/${hash}`)).status, 200);
    const del = await http(b.url, "DELETE", `/v1/files/${hash}`);
    assert.equal(del.status, 204);
    for (const gw of [a, b]) {
      for (const method of ["GET", "HEAD"] as const) {
        const res = await http(gw.url, method, `/v1/files/${hash}`);
        assert.equal(res.status, 404, `${method} on ${gw.url}`);
      }
      const meta = await http(gw.url, "GET", `/v1/files/${hash}/meta`);
      assert.equal((meta.json as Problem).code, "DFS_ERR_NOT_FOUND");
    }
    assert.equal((await http(a.url, "DELETE", `/v1/files/${hash}`)).status, 404);
    // Uploading it again brings it back.
    assert.equal((await put(b, data)).status, 201);
    assert.ok((await http(a.url, "GET", `/v1/files/${hash}`)).body.equals(data));
  });
});

describe("errors", () => {
  test("a malformed hash is 400 DFS_ERR_INVALID_HASH; an unknown one 404", async () => {
    for (const bad of ["abc", "A".repeat(64), `${"0".repeat(63)}g`]) {
      const res = await http(a.url, "GET", `/v1/files/${bad}`);
      assert.equal(res.status, 400);
      assert.equal((res.json as Problem).code, "DFS_ERR_INVALID_HASH");
    }
    const res = await http(a.url, "GET", `/v1/files/${"0".repeat(64)}`);
    assert.equal(res.status, 404);
    const problem = res.json as Problem;
    assert.equal(problem.code, "DFS_ERR_NOT_FOUND");
    assert.equal(problem.status, 404);
    assert.equal(problem.requestId, res.headers["x-request-id"]);
  });

  test("a caller's x-request-id is kept", async () => {
    const res = await http(a.url, "GET", `/v1/files/${"1".repeat(64)}`, {
      headers: { "x-request-id": "trace-42" },
    });
    assert.equal(res.headers["x-request-id"], "trace-42");
    assert.equal((res.json as Problem).requestId, "trace-42");
  });

  test("malformed multipart is 400 DFS_ERR_BAD_REQUEST, and nothing is stored", async () => {
    const bodies: [string, string][] = [
      [
        "multipart/form-data; boundary=xyz",
        '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ntruncated',
      ],
      ["multipart/form-data", "no boundary at all"],
      [
        "multipart/form-data; boundary=xyz",
        '--xyz\r\nContent-Disposition: form-data; name="note"\r\n\r\nonly a field\r\n--xyz--\r\n',
      ],
      ["application/json", '{"not":"multipart"}'],
    ];
    for (const [type, body] of bodies) {
      const res = await http(a.url, "POST", "/v1/files", { body, headers: { "content-type": type } });
      assert.equal(res.status, 400, `${type}: ${body}`);
      assert.equal((res.json as Problem).code, "DFS_ERR_BAD_REQUEST");
    }
    const res = await http(a.url, "GET", `/v1/files/${sha256(Buffer.from("truncated"))}`);
    assert.equal(res.status, 404);
  });

  test("over the size limit: 413 and nothing visible (multipart and raw)", async () => {
    for (const size of [MAX_UPLOAD_B + 1, 3 * MAX_UPLOAD_B]) {
      const data = patternBytes(size, size);
      const posted = await post(b, data);
      assert.equal(posted.status, 413);
      assert.equal((posted.json as Problem).code, "DFS_ERR_TOO_LARGE");
      const putted = await put(b, data);
      assert.equal(putted.status, 413);
      const streamed = await http(b.url, "PUT", "/v1/files", { body: streamOf(data, 50_000) });
      assert.equal(streamed.status, 413);
      assert.equal((await http(a.url, "HEAD", `/v1/files/${sha256(data)}`)).status, 404);
    }
    // Exactly at the limit is fine.
    const exact = patternBytes(MAX_UPLOAD_B, 3);
    assert.equal((await post(b, exact)).status, 201);
  });

  test("unknown routes are problem+json 404", async () => {
    const res = await request(`${a.url}/v2/nothing`);
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
    await res.body.dump();
  });
});

describe("the cluster's view", () => {
  test("nodes, healthz, readyz, metrics", async () => {
    const nodes = await http(a.url, "GET", "/v1/nodes");
    const list = nodes.json as { stale: boolean; nodes: { addr: string; state: string }[] };
    assert.equal(list.stale, false);
    assert.deepEqual(list.nodes.map((n) => n.addr).sort(), cluster.nodes.map((n) => n.addr).sort());
    assert.equal((await http(a.url, "GET", "/healthz")).status, 200);
    const ready = await http(b.url, "GET", "/readyz");
    assert.deepEqual(ready.json, { status: "ready", liveNodes: 3 });
    const metrics = await http(b.url, "GET", "/metrics");
    const text = metrics.body.toString();
    assert.match(
      text,
      /dfs_gateway_http_requests_total\{method="GET",route="\/v1\/files\/:hash",status="200"\} \d+/,
    );
    assert.match(text, /dfs_gateway_node_ops_total\{op="put",kind="chunk",result="ok"\} \d+/);
    assert.match(text, /dfs_gateway_errors_total\{code="DFS_ERR_TOO_LARGE"\} \d+/);
    assert.match(text, /dfs_gateway_live_nodes 3/);
    // Each node's store, as its heartbeats publish it: the uploads above went to its packs (small
    // objects: manifests, short last chunks), and in /v1/nodes too.
    const ids = cluster.nodes.map((n) => n.nodeId);
    await waitFor(
      async () => {
        const t = (await http(b.url, "GET", "/metrics")).body.toString();
        return ids.every((id) => {
          const m = new RegExp(`^dfs_node_pack_records_total\\{node="${id}"\\} (\\d+)$`, "m").exec(t);
          return Number(m?.[1]) > 0 && t.includes(`dfs_node_pack_live_bytes{node="${id}"}`);
        });
      },
      15_000,
      "pack records of every node in /metrics",
    );
    const withStore = (await http(a.url, "GET", "/v1/nodes")).json as {
      nodes: { store?: { packFiles: number; packRecords: number; packBatches: number } }[];
    };
    for (const n of withStore.nodes) {
      assert.ok(n.store && n.store.packFiles >= 1, JSON.stringify(n));
      assert.ok(n.store.packBatches >= 1 && n.store.packBatches <= n.store.packRecords, JSON.stringify(n));
    }
  });
});

describe("confidentiality", () => {
  test("nodes never see plaintext or file names", async () => {
    const marker = "PLAINTEXT-MARKER-7f3a9c";
    const name = "very-distinctive-name-5b2e.txt";
    const data = Buffer.from(`${marker}\n`.repeat(20_000));
    const res = await post(a, data, name, "text/plain");
    assert.equal(res.status, 201);
    const hash = (res.json as FileCreated).hash;
    // And a small one, which lives inside its (sealed) manifest.
    const small = await post(a, Buffer.from(`${marker} small`), `small-${name}`, "text/plain");
    assert.equal((small.json as FileCreated).chunks, 0);
    async function* files(dir: string): AsyncGenerator<string> {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) yield* files(join(dir, e.name));
        else yield join(dir, e.name);
      }
    }
    let checked = 0;
    for (const node of cluster.nodes) {
      for await (const file of files(node.dataDir)) {
        const bytes = await readFile(file);
        checked += bytes.length;
        for (const needle of [marker, name, hash]) {
          assert.equal(bytes.includes(needle), false, `${needle} found in ${file}`);
        }
      }
    }
    assert.ok(checked >= 3 * data.length, "the ciphertext is there");
  });
});

describe("large files", () => {
  test("100 MiB streamed up and down through different gateways", async () => {
    const data = patternBytes(100 * 1024 * 1024, 42);
    const res = await http(a.url, "PUT", "/v1/files", { body: streamOf(data, 256 * 1024) });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.equal((res.json as FileCreated).hash, sha256(data));
    const got = await request(`${b.url}/v1/files/${sha256(data)}`);
    assert.equal(got.statusCode, 200);
    const { createHash } = await import("node:crypto");
    const h = createHash("sha256");
    let n = 0;
    for await (const piece of got.body) {
      h.update(piece as Buffer);
      n += (piece as Buffer).length;
    }
    assert.equal(n, data.length);
    assert.equal(h.digest("hex"), sha256(data));
  });
});
