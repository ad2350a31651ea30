/**
 * The gateway calls of the partition workload, each one recorded operation: files by hash
 * (upload, download, stat, delete) and keys in one bucket (put, get, list, delete). Every call has
 * a deadline; no answer by then is an "unknown" outcome.
 */
import { createHash } from "node:crypto";
import { type Dispatcher, request } from "undici";
import { API_KEY } from "./cluster.ts";
import { ABSENT, type History, type Op, type OpKind } from "./history.ts";

export const BUCKET = "partitions";
const OP_TIMEOUT_MS = 10_000;
const auth = { authorization: `Bearer ${API_KEY}` };

export const sha256hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export interface Call {
  history: History;
  client: number;
  gateway: number;
  url: string;
  dispatcher?: Dispatcher;
}

type Result = Pick<Op, "outcome"> & Partial<Op>;

async function send(
  c: Call,
  method: Dispatcher.HttpMethod,
  path: string,
  body?: Buffer,
): Promise<{ status: number; bytes: Buffer }> {
  const signal = AbortSignal.timeout(OP_TIMEOUT_MS);
  const res = await request(`${c.url}${path}`, {
    method,
    body,
    headers: { ...auth, ...(body ? { "content-type": "application/octet-stream" } : {}) },
    signal,
    headersTimeout: OP_TIMEOUT_MS,
    bodyTimeout: OP_TIMEOUT_MS,
    ...(c.dispatcher ? { dispatcher: c.dispatcher } : {}),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, bytes };
}

/** 2xx: ok; 404 on a read: ok (absent); any other answer: fail; no answer: unknown (thrown). */
function outcomeOf(status: number, read: boolean): Result["outcome"] {
  if (status >= 200 && status < 300) return "ok";
  if (read && status === 404) return "ok";
  return "fail";
}

const errorOf = (status: number, bytes: Buffer) =>
  status >= 300 && status !== 404 ? bytes.toString("utf8").slice(0, 160) : undefined;

function op(c: Call, kind: OpKind, target: string, value: string | undefined, run: () => Promise<Result>) {
  return c.history.record({ client: c.client, gateway: c.gateway, kind, target, value }, run);
}

export function upload(c: Call, data: Buffer): Promise<Op> {
  const hash = sha256hex(data);
  return op(c, "upload", hash, hash, async () => {
    const r = await send(c, "PUT", "/v1/files", data);
    let error = errorOf(r.status, r.bytes);
    if (r.status === 200 || r.status === 201) {
      const said = (JSON.parse(r.bytes.toString("utf8")) as { hash?: string }).hash;
      if (said !== hash) error = `gateway named hash ${said}`;
    }
    return { outcome: outcomeOf(r.status, false), status: r.status, error };
  });
}

export function download(c: Call, hash: string): Promise<Op> {
  return op(c, "download", hash, undefined, async () => {
    const r = await send(c, "GET", `/v1/files/${hash}`);
    const value = r.status === 200 ? sha256hex(r.bytes) : r.status === 404 ? ABSENT : undefined;
    return { outcome: outcomeOf(r.status, true), status: r.status, value, error: errorOf(r.status, r.bytes) };
  });
}

export function stat(c: Call, hash: string): Promise<Op> {
  return op(c, "stat", hash, undefined, async () => {
    const r = await send(c, "HEAD", `/v1/files/${hash}`);
    // HEAD proves presence, not bytes: the hash it names is the value it stands for.
    const value = r.status === 200 ? hash : r.status === 404 ? ABSENT : undefined;
    return { outcome: outcomeOf(r.status, true), status: r.status, value };
  });
}

export function deleteFile(c: Call, hash: string): Promise<Op> {
  return op(c, "delete", hash, ABSENT, async () => {
    const r = await send(c, "DELETE", `/v1/files/${hash}`);
    const outcome = r.status === 404 ? "ok" : outcomeOf(r.status, false);
    return { outcome, status: r.status, error: errorOf(r.status, r.bytes) };
  });
}

const keyPath = (key: string) => `/v1/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`;

export function putKey(c: Call, key: string, data: Buffer): Promise<Op> {
  return op(c, "put", key, sha256hex(data), async () => {
    const r = await send(c, "PUT", keyPath(key), data);
    return { outcome: outcomeOf(r.status, false), status: r.status, error: errorOf(r.status, r.bytes) };
  });
}

export function getKey(c: Call, key: string): Promise<Op> {
  return op(c, "get", key, undefined, async () => {
    const r = await send(c, "GET", keyPath(key));
    const value = r.status === 200 ? sha256hex(r.bytes) : r.status === 404 ? ABSENT : undefined;
    return { outcome: outcomeOf(r.status, true), status: r.status, value, error: errorOf(r.status, r.bytes) };
  });
}

export function deleteKey(c: Call, key: string): Promise<Op> {
  return op(c, "kdelete", key, ABSENT, async () => {
    const r = await send(c, "DELETE", keyPath(key));
    const outcome = r.status === 404 ? "ok" : outcomeOf(r.status, false);
    return { outcome, status: r.status, error: errorOf(r.status, r.bytes) };
  });
}

/** Every key under `prefix`, page after page (at most 50 pages). */
export function listKeys(c: Call, prefix: string): Promise<Op> {
  return op(c, "list", prefix, undefined, async () => {
    const keys: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const q = new URLSearchParams({ prefix, ...(cursor ? { cursor } : {}) });
      const r = await send(c, "GET", `/v1/buckets/${BUCKET}/objects?${q}`);
      if (r.status !== 200) return { outcome: "fail", status: r.status, error: errorOf(r.status, r.bytes) };
      const body = JSON.parse(r.bytes.toString("utf8")) as {
        objects?: { key: string }[];
        truncated?: boolean;
        next?: string;
      };
      keys.push(...(body.objects ?? []).map((k) => k.key));
      if (!body.truncated || !body.next) return { outcome: "ok", status: 200, keys };
      cursor = body.next;
    }
    return { outcome: "fail", error: "more than 50 pages" };
  });
}

/** Makes the bucket (retried for up to 30 s while the cluster settles). */
export async function makeBucket(url: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const res = await request(`${url}/v1/buckets/${BUCKET}`, { method: "PUT", headers: auth }).catch(
      () => undefined,
    );
    await res?.body.dump();
    if (res && (res.statusCode < 300 || res.statusCode === 409)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("could not make the bucket");
}

/** Nodes holding each chunk of a file, from /v1/files/{hash}/meta; undefined when not answered. */
export async function chunkCopies(url: string, hash: string): Promise<number[] | undefined> {
  const res = await request(`${url}/v1/files/${hash}/meta`, {
    headers: auth,
    signal: AbortSignal.timeout(5000),
  }).catch(() => undefined);
  if (!res) return undefined;
  const text = await res.body.text().catch(() => "");
  if (res.statusCode !== 200) return undefined;
  const meta = JSON.parse(text) as { chunks: { nodes: string[] }[] };
  return meta.chunks.map((c) => c.nodes.length);
}
