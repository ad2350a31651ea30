/**
 * Shared by the self-healing tests: node env with short heal timings, counting copies by listing
 * every live node's store over the node protocol, uploads and downloads through a gateway.
 */

import { appendFile, open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import type { FileMeta } from "../../src/api/index.ts";
import type { ObjectKind } from "../../src/formats/index.ts";
import { decodeHeader, encodeHeader, RECORD_HEADER_BYTES } from "../../src/node/store/pack-record.ts";
import type { NodeClient } from "../../src/transport/index.ts";
import { testNodeClient } from "./cluster.ts";
import { sha256 } from "./data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  multipart,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  waitFor,
  waitLive,
} from "./gateway.ts";

/** Short timings: a restart-sized grace of 1.5 s (heartbeat TTL is 2 s), rounds every 500 ms. */
export const HEAL_ENV: NodeJS.ProcessEnv = {
  DFS_REPAIR_GRACE_MS: "1500",
  DFS_REPAIR_INTERVAL_MS: "500",
  DFS_SCRUB_INTERVAL_MS: "3600000",
  DFS_GC_GRACE_MS: "1000",
  DFS_REPAIR_RATE: String(256 * 1024 * 1024),
};

/** A self-healing test file's topology: its nodes, a gateway in this process, a node client. */
export interface HealTopology {
  cluster: Cluster;
  gw: Gateway;
  client: NodeClient;
}

/**
 * Starts `nodes` real `dfs node` processes under a real Redis Sentinel topology, with HEAL_ENV and
 * `env`, a gateway in this process (SMALL_CHUNK chunks) and a node client; resolves once the
 * gateway sees every node. A failure part-way stops what did start.
 */
export async function startHealTopology(
  nodes: number,
  prefix: string,
  env: NodeJS.ProcessEnv = {},
  prepare?: (dataDir: string, index: number) => Promise<void>,
): Promise<HealTopology> {
  const started: Partial<HealTopology> = {};
  try {
    started.cluster = await startCluster(nodes, prefix, { ...HEAL_ENV, ...env }, prepare);
    started.gw = await startGatewayInProcess(started.cluster, { "chunk-size": String(SMALL_CHUNK) });
    started.client = nodeClient();
    await waitLive(started.gw.url, nodes);
    return { cluster: started.cluster, gw: started.gw, client: started.client };
  } catch (err) {
    await stopHealTopology(started);
    throw err;
  }
}

/** Stops what startHealTopology started, whatever part of it did start. */
export async function stopHealTopology(t: Partial<HealTopology>): Promise<void> {
  await t.client?.close();
  await t.gw?.stop();
  await t.cluster?.stop();
}

export function nodeClient(): NodeClient {
  // A node's credential: these tests LIST and read like a peer doing repair would.
  return testNodeClient("node", "test-peer");
}

/** "kind:id" -> addresses holding it, over every address given (all must answer). */
export async function copies(client: NodeClient, addrs: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const addr of addrs) {
    for (const kind of ["chunk", "manifest"] as const) {
      let after: string | undefined;
      do {
        const page = await client.list(addr, { kind, after, limit: 10_000 });
        for (const id of page.ids) {
          const key = `${kind}:${id}`;
          out.set(key, [...(out.get(key) ?? []), addr]);
        }
        after = page.next;
      } while (after !== undefined);
    }
  }
  return out;
}

/** Waits until none of `chunks` is held on `addrs()` any more: garbage collection took them. */
export async function waitChunksCollected(
  client: NodeClient,
  addrs: () => readonly string[],
  chunks: readonly string[],
  timeoutMs: number,
  what: string,
): Promise<void> {
  await waitFor(
    async () => {
      const held = await copies(client, addrs());
      return chunks.every((id) => !held.has(`chunk:${id}`));
    },
    timeoutMs,
    what,
  );
}

/** How many objects have fewer than `min` (or more than `max`) copies. */
export function outOfRange(held: Map<string, string[]>, min: number, max = Number.POSITIVE_INFINITY): number {
  let n = 0;
  for (const addrs of held.values()) if (addrs.length < min || addrs.length > max) n++;
  return n;
}

export interface Uploaded {
  hash: string;
  data: Buffer;
}

export async function upload(url: string, data: Buffer): Promise<Uploaded> {
  const res = await http(url, "POST", "/v1/files", { body: multipart(data) });
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload answered ${res.status}`);
  return { hash: sha256(data), data };
}

/** Downloads a file; its bytes, or the status when not 200. */
export async function download(url: string, hash: string): Promise<Buffer | number> {
  const res = await request(`${url}/v1/files/${hash}`);
  if (res.statusCode !== 200) {
    await res.body.dump();
    return res.statusCode;
  }
  return Buffer.from(await res.body.arrayBuffer());
}

/** Sizes 1 B .. ~200 KiB, a few of them exactly chunk-sized, so files have 1..4 chunks. */
export function mixedSize(i: number, chunk: number): number {
  const sizes = [1, 100, 4096, chunk, chunk + 1, 3 * chunk - 7, 200 * 1024, 50_000];
  return sizes[i % sizes.length]! + (i >> 3);
}

/** Where a node keeps a chunk (ARCHITECTURE.md, on-disk layout). */
export function chunkPath(dataDir: string, id: string): string {
  return join(dataDir, "chunks", id.slice(0, 2), id.slice(2, 4), id);
}

/** A file's chunk ids, from the gateway's /meta. */
export async function chunkIds(gatewayUrl: string, hash: string): Promise<string[]> {
  const meta = await http(gatewayUrl, "GET", `/v1/files/${hash}/meta`);
  if (meta.status !== 200) throw new Error(`meta of ${hash}: ${meta.status}`);
  return (meta.json as FileMeta).chunks.map((c) => c.id);
}

/** Where a node keeps the body of its current copy of an object: a byte range of one file. */
export interface StoredCopy {
  path: string;
  at: number;
  length: number;
}

/**
 * The body of a node's current copy on disk, read as the node reads its data dir on start: the
 * last record of the id in its packs unless a removal record follows (src/node/store/pack-log.ts), else the
 * object's own file. Tests use it to corrupt a copy in place and to watch it being replaced.
 */
export async function storedCopy(
  dataDir: string,
  kind: ObjectKind,
  id: string,
): Promise<StoredCopy | undefined> {
  const dir = join(dataDir, "packs");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".pack")).sort();
  let packed: StoredCopy | undefined;
  for (const name of names) {
    const path = join(dir, name);
    // A pack compaction deleted since the listing holds nothing live any more.
    const bytes = await readFile(path).catch(() => Buffer.alloc(0));
    for (let at = 0; at + RECORD_HEADER_BYTES <= bytes.length; ) {
      const h = decodeHeader(bytes, at);
      if (h === undefined) {
        at++;
        continue;
      }
      if (h.kind === kind && h.id === id) {
        packed = h.op === "put" ? { path, at: at + RECORD_HEADER_BYTES, length: h.length } : undefined;
      }
      at += RECORD_HEADER_BYTES + h.length;
    }
  }
  if (packed) return packed;
  const path =
    kind === "chunk"
      ? chunkPath(dataDir, id)
      : join(dataDir, "manifests", id.slice(0, 2), id.slice(2, 4), id);
  const header = kind === "manifest" ? 32 : 0;
  const s = await stat(path).catch(() => undefined);
  return s && { path, at: header, length: s.size - header };
}

/** The body of a node's current copy, or undefined when it holds none. */
export async function readStored(dataDir: string, kind: ObjectKind, id: string): Promise<Buffer | undefined> {
  const copy = await storedCopy(dataDir, kind, id);
  if (copy === undefined) return undefined;
  // The node may move its copy aside (quarantine) between the lookup and the open: none then.
  const fh = await open(copy.path, "r").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (fh === undefined) return undefined;
  try {
    const body = Buffer.alloc(copy.length);
    await fh.read(body, 0, copy.length, copy.at);
    return body;
  } finally {
    await fh.close();
  }
}

/** Overwrites the body of a node's current copy in place (same length); returns what was written. */
export async function writeStored(
  dataDir: string,
  kind: ObjectKind,
  id: string,
  body: Buffer,
): Promise<Buffer> {
  const copy = await storedCopy(dataDir, kind, id);
  if (copy === undefined) throw new Error(`${dataDir} holds no ${kind} ${id}`);
  if (copy.length !== body.length)
    throw new Error(`${kind} ${id}: ${body.length} bytes for a copy of ${copy.length}`);
  const fh = await open(copy.path, "r+");
  try {
    await fh.write(body, 0, body.length, copy.at);
  } finally {
    await fh.close();
  }
  return body;
}

/** Flips one bit in the middle of a node's current copy; returns the body as it now is. */
export async function flipStored(dataDir: string, kind: ObjectKind, id: string): Promise<Buffer> {
  const body = await readStored(dataDir, kind, id);
  if (body === undefined) throw new Error(`${dataDir} holds no ${kind} ${id}`);
  body[body.length >> 1]! ^= 0x40;
  return writeStored(dataDir, kind, id, body);
}

/**
 * Makes `body` a stopped node's copy of an object as its store would have written it: a put record
 * appended to its last pack, with the body's own SHA-256 as checksum. The node, once started,
 * holds it, and says so in its digests (what an in-place change of the bytes, rot, does not do).
 */
export async function appendStored(
  dataDir: string,
  kind: ObjectKind,
  id: string,
  body: Buffer,
): Promise<void> {
  const dir = join(dataDir, "packs");
  const last = (await readdir(dir))
    .filter((n) => n.endsWith(".pack"))
    .sort()
    .at(-1);
  if (last === undefined) throw new Error(`${dataDir} has no pack`);
  const checksum = sha256(body);
  const header = encodeHeader({ op: "put", kind, id, checksum, length: body.length, writtenAt: Date.now() });
  await appendFile(join(dir, last), Buffer.concat([header, body]));
}
