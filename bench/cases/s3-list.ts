import { Pool, request } from "undici";
import { OBJECTS_TABLE } from "../../src/names/index.ts";
import { type BenchCase, runPool } from "../lib/measure.ts";
import { type S3Credentials, SigV4Signer } from "../lib/sigv4.ts";
import type { BenchCluster } from "./cluster.ts";
import { benchTableClient } from "./tables.ts";

/**
 * ListObjectsV2 over a bucket of `keys` keys: the bucket is filled once, before the case's first
 * run and outside every measured time (fillListBucket); a run lists the whole bucket in pages of `page` keys (continuation
 * tokens), SigV4-signed, and checks every key and its order. Its figure is keys per second.
 */
export interface ListCaseOptions {
  keys: number;
  page: number;
}

export const LIST_BUCKET = "bench-list";
/** Zero-padded, so byte order is index order. */
const listKey = (i: number) => `list-${String(i).padStart(7, "0")}`;

/** Records per table write while filling, and writes in flight. */
const FILL_BATCH = 250;
const FILL_INFLIGHT = 4;

/**
 * Fills the bucket as fast as the tables take it: the first key is a real empty object PUT through
 * /v1/buckets/{bucket}/objects/{key}; its key record (src/names/records.ts) is then written under
 * every other key by a TableClient in this process, FILL_BATCH records a write (quorum writes, as
 * the gateway's). A listing reads only these records, so it sees the bucket 100,000 empty PUTs
 * would make, at a fraction of the time (every key shares the first key's file and holder).
 */
export async function fillListBucket(
  cluster: BenchCluster,
  o: ListCaseOptions,
): Promise<{ seconds: number }> {
  const started = performance.now();
  const path = `/v1/buckets/${LIST_BUCKET}/objects/${listKey(0)}`;
  const res = await request(`${cluster.url}${path}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${cluster.apiKey}`, "content-type": "application/octet-stream" },
    body: Buffer.alloc(0),
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`PUT ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  const { client, nodes } = benchTableClient(cluster, "bench-list-fill");
  try {
    const bucket = Buffer.from(LIST_BUCKET);
    const first = await client.read(OBJECTS_TABLE, bucket, Buffer.from(listKey(0)));
    if (first === undefined) throw new Error(`no key record for ${listKey(0)} after its PUT`);
    const batches = Math.ceil((o.keys - 1) / FILL_BATCH);
    await runPool(batches, FILL_INFLIGHT, async (b) => {
      const from = 1 + b * FILL_BATCH;
      const to = Math.min(o.keys, from + FILL_BATCH);
      const writes = Array.from({ length: to - from }, (_, i) => ({
        table: OBJECTS_TABLE,
        partitionKey: bucket,
        sortKey: Buffer.from(listKey(from + i)),
        value: first.value,
      }));
      await client.write(writes);
    });
  } finally {
    await nodes.close();
  }
  return { seconds: (performance.now() - started) / 1000 };
}

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** The keys of a ListObjectsV2 page, and its continuation token when truncated. */
function parsePage(xml: string): { keys: string[]; next: string | undefined } {
  const keys = [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1]!));
  const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
  const token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
  if (truncated && token === undefined) throw new Error("a truncated page without NextContinuationToken");
  return { keys, next: truncated ? unescapeXml(token!) : undefined };
}

export function listCase(
  cluster: BenchCluster,
  credentials: S3Credentials,
  o: ListCaseOptions,
): { list: BenchCase; fillSeconds(): number | undefined; close(): Promise<void> } {
  const url = cluster.s3Url!;
  const pool = new Pool(url, { connections: 1 });
  const signer = new SigV4Signer(credentials, url);
  let filled: { seconds: number } | undefined;
  const list: BenchCase = {
    key: "s3-list",
    label: `S3 ListObjectsV2 of ${o.keys} keys, pages of ${o.page}`,
    group: "cluster",
    roles: { client: process.pid, ...cluster.roles },
    bytes: 0,
    last: true,
    async prepare() {
      if (filled !== undefined) return;
      process.stderr.write(`filling ${LIST_BUCKET} with ${o.keys} keys for s3-list\n`);
      filled = await fillListBucket(cluster, o);
    },
    async run() {
      const latenciesMs: number[] = [];
      let listed = 0;
      let token: string | undefined;
      do {
        const started = performance.now();
        const query: [string, string][] = [
          ["list-type", "2"],
          ["max-keys", String(o.page)],
          ...(token === undefined ? [] : [["continuation-token", token] as [string, string]]),
        ];
        const signed = signer.sign({
          method: "GET",
          path: `/${LIST_BUCKET}`,
          query,
          payloadHash: "UNSIGNED-PAYLOAD",
        });
        const res = await pool.request({ method: "GET", path: signed.path, headers: signed.headers });
        const xml = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`ListObjectsV2: ${res.statusCode} ${xml.slice(0, 300)}`);
        const page = parsePage(xml);
        if (page.keys.length > o.page)
          throw new Error(`a page of ${page.keys.length} keys (max-keys ${o.page})`);
        for (const key of page.keys) {
          if (key !== listKey(listed))
            throw new Error(`key ${listed} listed is ${key}, expected ${listKey(listed)}`);
          listed++;
        }
        token = page.next;
        latenciesMs.push(performance.now() - started);
      } while (token !== undefined);
      if (listed !== o.keys) throw new Error(`ListObjectsV2 listed ${listed} keys of ${o.keys}`);
      return { latenciesMs, errors: 0 };
    },
  };
  return { list, fillSeconds: () => filled?.seconds, close: () => pool.close() };
}
