import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectStore, StoreOptions } from "../../src/node/store/index.ts";
import { sha256 } from "./data.ts";

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
