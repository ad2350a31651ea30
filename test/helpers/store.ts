import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before } from "node:test";
import type { ObjectKind } from "../../src/formats/index.ts";
import { ObjectStore, type StoreOptions } from "../../src/node/store/index.ts";
import { sha256 } from "./data.ts";
import { makeTempDir } from "./tmp.ts";

/** A store's options for tests: fsync on, no reserve or capacity, objects up to 2 MiB; `extra` wins. */
export function storeOptions(dataDir: string, extra: Partial<StoreOptions> = {}): StoreOptions {
  return {
    dataDir,
    fsync: true,
    reserveBytes: 0,
    capacityBytes: 0,
    maxObjectBytes: 2 * 1024 * 1024,
    ...extra,
  };
}

/**
 * Stores `data` as a chunk the way a socket delivers it: in pieces, at least two (so a copy kept
 * for the cache or a pack must be assembled in order), at most 256 KiB each. Returns its id.
 */
export async function putChunk(store: ObjectStore, data: Buffer): Promise<string> {
  const id = sha256(data);
  const w = await store.createWriter({ kind: "chunk", id, size: data.length });
  const piece = Math.max(1, Math.min(256 * 1024, Math.ceil(data.length / 2)));
  for (let at = 0; at < data.length; at += piece) w.write(data.subarray(at, at + piece));
  await w.commit();
  return id;
}

/**
 * The writes in progress in a data directory, as paths relative to it, sorted: temp files beside
 * their objects (`chunks/ab/cd/.tmp-...`, the same under manifests/) and anything in tmp/.
 */
export async function writesInProgress(dataDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const root of ["chunks", "manifests"]) {
    const names = await readdir(join(dataDir, root), { recursive: true }).catch(() => []);
    for (const name of names) if (name.split("/").at(-1)!.startsWith(".tmp-")) found.push(join(root, name));
  }
  const tmp = await readdir(join(dataDir, "tmp")).catch(() => []);
  found.push(...tmp.map((name) => join("tmp", name)));
  return found.sort();
}

/** Stores `body` as a manifest, in one piece, with its checksum. */
export async function putManifest(store: ObjectStore, id: string, body: Buffer): Promise<void> {
  const w = await store.createWriter({ kind: "manifest", id, size: body.length, checksum: sha256(body) });
  w.end(body);
  await w.commit();
}

/**
 * Stores for one describe block, each in its own folder under a temp dir made before the block's
 * tests: `open` opens one there with `defaults` (then `extra`), `fresh` in a new folder; whatever is
 * still open after the block (those two open, and any a test pushes on `opened`) is closed and the
 * dir removed.
 */
export function storesForSuite(prefix: string, defaults: Partial<StoreOptions>) {
  let dir: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  let n = 0;
  const opened: ObjectStore[] = [];
  before(async () => {
    dir = await makeTempDir(prefix);
  });
  after(async () => {
    for (const s of opened) await s.close();
    await dir?.remove();
  });
  const open = async (dataDir: string, extra: Partial<StoreOptions> = {}): Promise<ObjectStore> => {
    const s = await ObjectStore.open(storeOptions(dataDir, { ...defaults, ...extra }));
    opened.push(s);
    return s;
  };
  return {
    open,
    fresh: (extra: Partial<StoreOptions> = {}) => open(join(dir!.path, `s${++n}`), extra),
    opened,
    /** A store closed by the test itself: not closed again after the block. */
    closed: (s: ObjectStore) => {
      const at = opened.indexOf(s);
      if (at >= 0) opened.splice(at, 1);
    },
    get path(): string {
      return dir!.path;
    },
  };
}

/**
 * Reads an object through `openSource` in small reads (a source must hand out its bytes in order
 * over many calls) into room for a few bytes more than it announced, so a source that gives more
 * than its length shows as a longer result.
 */
export async function readSource(
  store: ObjectStore,
  kind: ObjectKind,
  id: string,
  offset?: number,
  length?: number,
): Promise<{ size: number; bytes: Buffer }> {
  const { size, length: count, source } = await store.openSource(kind, id, { offset, length });
  const out = Buffer.alloc(count + 10);
  let at = 0;
  try {
    for (let got = -1; got !== 0; at += got) got = await source.read(out.subarray(at, at + 1000));
  } finally {
    await source.close();
  }
  return { size, bytes: out.subarray(0, at) };
}
