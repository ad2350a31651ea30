import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectStore, StoreOptions } from "../../src/node/store/index.ts";
import type { ObjectKind } from "../../src/transport/api.ts";
import { patternBytes, readAll } from "./data.ts";
import { putChunk, storesForSuite } from "./store.ts";

/**
 * Stores with packs on for one describe block (storesForSuite, `prefix` for its temp dir), and what
 * the store-packs tests do with them: reopen, read, put patterns, and find packs and files on disk.
 */
export function packStoresForSuite(prefix: string) {
  const stores = storesForSuite(prefix, { packs: true });
  const openStore = stores.open;
  const freshStore = stores.fresh;
  async function reopen(s: ObjectStore, extra: Partial<StoreOptions> = {}): Promise<ObjectStore> {
    await s.close();
    stores.closed(s);
    return openStore(s.dataDir, extra);
  }

  async function read(store: ObjectStore, kind: ObjectKind, id: string, offset?: number, length?: number) {
    return readAll((await store.createReader(kind, id, { offset, length })).body);
  }

  /** Stores patternBytes(sizes[i], i + 1) as chunks, in order; their ids. */
  async function putPatterns<T extends number[]>(
    s: ObjectStore,
    sizes: [...T],
  ): Promise<{ [K in keyof T]: string }> {
    const ids: string[] = [];
    for (const [i, size] of sizes.entries()) ids.push(await putChunk(s, patternBytes(size, i + 1)));
    return ids as { [K in keyof T]: string };
  }
  /** Closes `s` (the test's to reopen) and says which pack it appended to last, and its size. */
  async function closeAtLastPack(s: ObjectStore): Promise<{ pack: string; bytes: number }> {
    const pack = await lastPack(s);
    const bytes = (await stat(pack)).size;
    await s.close();
    stores.closed(s);
    return { pack, bytes };
  }

  const packFiles = async (s: ObjectStore) => (await readdir(join(s.dataDir, "packs"))).sort();
  const lastPack = async (s: ObjectStore) => join(s.dataDir, "packs", (await packFiles(s)).at(-1)!);
  const filePath = (s: ObjectStore, kind: ObjectKind, id: string) =>
    join(s.dataDir, kind === "chunk" ? "chunks" : "manifests", id.slice(0, 2), id.slice(2, 4), id);
  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  return {
    stores,
    openStore,
    freshStore,
    reopen,
    read,
    putPatterns,
    closeAtLastPack,
    packFiles,
    lastPack,
    filePath,
    exists,
  };
}
