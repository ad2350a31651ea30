/**
 * Listings of a bucket of a few thousand keys, compared page by page with a model computed here:
 * prefix, delimiter (common prefixes), start-after and the cursor, through the /v1 JSON listing.
 * A real cluster (Redis Sentinel, three `dfs node` processes) and a gateway in this process.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Names } from "../src/names/index.ts";
import {
  type Cluster,
  type Gateway,
  http,
  startCluster,
  startGatewayInProcess,
  waitLive,
} from "./helpers/gateway.ts";

let cluster: Cluster;
let gw: Gateway & { running: { app: { names: Names } } };

const BUCKET = "listing";
const byBytes = (x: string, y: string) => Buffer.compare(Buffer.from(x), Buffer.from(y));

/** 2,400 keys at depths 1 to 3, with non-ASCII names, in byte order. */
function makeKeys(): string[] {
  const dirs = ["a", "b", "photos", "é", "zz"];
  const subs = ["2024", "2025", "x-y", "ü"];
  const keys = new Set<string>();
  for (let i = 0; i < 2400; i++) {
    const depth = i % 3;
    const file = `f${(i * 7919) % 10007}${i % 11 === 0 ? "€" : ""}`;
    if (depth === 0) keys.add(file);
    else if (depth === 1) keys.add(`${dirs[i % dirs.length]}/${file}`);
    else keys.add(`${dirs[i % dirs.length]}/${subs[i % subs.length]}/${file}`);
  }
  return [...keys].sort(byBytes);
}

interface Page {
  objects: string[];
  commonPrefixes: string[];
  truncated: boolean;
}

/** What a page must hold: the model of S3's ListObjects over the sorted keys. */
function modelPages(
  keys: readonly string[],
  o: { prefix?: string; delimiter?: string; startAfter?: string; limit: number },
): Page[] {
  const items: { name: string; common: boolean }[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(o.prefix ?? "")) continue;
    if (o.startAfter !== undefined && byBytes(k, o.startAfter) <= 0) continue;
    const rest = k.slice((o.prefix ?? "").length);
    const cut = o.delimiter === undefined ? -1 : rest.indexOf(o.delimiter);
    if (cut < 0) items.push({ name: k, common: false });
    else {
      const cp = (o.prefix ?? "") + rest.slice(0, cut + o.delimiter!.length);
      if (!seen.has(cp)) {
        seen.add(cp);
        items.push({ name: cp, common: true });
      }
    }
  }
  const pages: Page[] = [];
  for (let i = 0; i < items.length || pages.length === 0; i += o.limit) {
    const slice = items.slice(i, i + o.limit);
    pages.push({
      objects: slice.filter((x) => !x.common).map((x) => x.name),
      commonPrefixes: slice.filter((x) => x.common).map((x) => x.name),
      truncated: i + o.limit < items.length,
    });
  }
  return pages;
}

async function listPages(o: {
  prefix?: string;
  delimiter?: string;
  startAfter?: string;
  limit: number;
}): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: String(o.limit) });
    if (o.prefix !== undefined) q.set("prefix", o.prefix);
    if (o.delimiter !== undefined) q.set("delimiter", o.delimiter);
    if (o.startAfter !== undefined) q.set("startAfter", o.startAfter);
    if (cursor !== undefined) q.set("cursor", cursor);
    const res = await http(gw.url, "GET", `/v1/buckets/${BUCKET}/objects?${q}`);
    assert.equal(res.status, 200);
    const body = res.json as {
      objects: { key: string }[];
      commonPrefixes: string[];
      truncated: boolean;
      next?: string;
    };
    pages.push({
      objects: body.objects.map((x) => x.key),
      commonPrefixes: body.commonPrefixes,
      truncated: body.truncated,
    });
    assert.equal(body.next !== undefined, body.truncated, "next is given exactly when truncated");
    if (!body.truncated) return pages;
    cursor = body.next;
    assert.ok(pages.length < 10_000, "the listing ends");
  }
}

const keys = makeKeys();

before(async () => {
  cluster = await startCluster(3, "nameslist:");
  gw = await startGatewayInProcess(cluster);
  await waitLive(gw.url, 3);
  const names = gw.running.app.names;
  await names.createBucket(BUCKET);
  const signal = new AbortController().signal;
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      await names.putObject(BUCKET, key, {
        headers: { contentType: "text/plain" },
        userMeta: {},
        body: (async function* () {
          yield Buffer.from(key);
        })(),
        signal,
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
});

after(async () => {
  await gw?.stop();
  await cluster?.stop();
});

describe("listing", () => {
  const cases: { prefix?: string; delimiter?: string; startAfter?: string; limit: number }[] = [
    { limit: 1000 },
    { limit: 333 },
    { limit: 7, delimiter: "/" },
    { limit: 1000, delimiter: "/" },
    { limit: 50, prefix: "photos/" },
    { limit: 3, prefix: "photos/", delimiter: "/" },
    { limit: 100, prefix: "é/ü/" },
    { limit: 1, prefix: "a/", delimiter: "/" },
    { limit: 64, startAfter: "b/2025" },
    { limit: 2, startAfter: "a/", delimiter: "/" },
    { limit: 9, prefix: "zz", delimiter: "0" },
    { limit: 10, prefix: "no-such-prefix/" },
    { limit: 500, prefix: "a", startAfter: "photos" },
  ];
  for (const c of cases) {
    test(`pages match the model: ${JSON.stringify(c)}`, async () => {
      assert.deepEqual(await listPages(c), modelPages(keys, c));
    });
  }

  test("a bad cursor or limit is 400; an unknown bucket 404", async () => {
    const bad = await http(gw.url, "GET", `/v1/buckets/${BUCKET}/objects?cursor=%21%21`);
    assert.equal(bad.status, 400);
    assert.equal((bad.json as { code: string }).code, "DFS_ERR_BAD_REQUEST");
    assert.equal((await http(gw.url, "GET", `/v1/buckets/${BUCKET}/objects?limit=0`)).status, 400);
    assert.equal((await http(gw.url, "GET", `/v1/buckets/${BUCKET}/objects?limit=1001`)).status, 400);
    const none = await http(gw.url, "GET", "/v1/buckets/no-such-bucket/objects");
    assert.equal(none.status, 404);
    assert.equal((none.json as { code: string }).code, "DFS_ERR_NO_SUCH_BUCKET");
  });
});
