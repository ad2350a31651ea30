import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectKind } from "../../formats/index.ts";
import { Capacity } from "./capacity.ts";
import { DataDirLock } from "./dir-lock.ts";
import { DirSyncer } from "./dir-sync.ts";
import { FanoutDirs } from "./fanout-dirs.ts";
import { FileLayout } from "./file-layout.ts";
import { loadOrCreateNodeId } from "./node-id.ts";
import type { ObjectLayout } from "./object-layout.ts";
import { PackLog, type PackLogOptions } from "./pack-log.ts";
import { DataPaths } from "./paths.ts";
import type { StoreOptions } from "./types.ts";

const DEFAULT_PACK_BYTES = 64 * 1024 * 1024;

/** What an open store is made of. */
export interface StoreParts {
  paths: DataPaths;
  lock: DataDirLock;
  nodeId: string;
  packs: PackLog;
  files: FileLayout;
  capacity: Capacity;
}

/**
 * Takes the data directory's lock (DFS_ERR_DATA_DIR_LOCKED while another live process holds it),
 * creates the layout, empties tmp/, loads or creates the node id, opens the pack log (its recovery
 * scan) and counts what is stored, removing what a crash left half-written and files a pack holds
 * a newer copy of. `lock` runs fn under an object's lock (pack compaction takes it).
 */
export async function openParts(options: StoreOptions, lock: PackLogOptions["lock"]): Promise<StoreParts> {
  const paths = new DataPaths(options.dataDir);
  await mkdir(options.dataDir, { recursive: true });
  const dirLock = DataDirLock.acquire(options.dataDir);
  let packs: PackLog | undefined;
  try {
    for (const dir of [paths.root("chunk"), paths.root("manifest"), paths.tmp, paths.quarantine]) {
      await mkdir(dir, { recursive: true });
    }
    // Whatever is in tmp/ was being written when the last process stopped: none of it was acked.
    for (const name of await readdir(paths.tmp)) {
      await rm(join(paths.tmp, name), { recursive: true, force: true });
    }
    const nodeId = await loadOrCreateNodeId(paths.nodeIdFile, paths.tmp);
    packs = await PackLog.open({
      dir: paths.packs,
      fsync: options.fsync,
      packBytes: options.packBytes ?? DEFAULT_PACK_BYTES,
      ...(options.background ? { budget: options.background } : {}),
      lock,
      ...(options.warn ? { warn: options.warn } : {}),
      ...(options.changes ? { changes: options.changes } : {}),
    });
    const roots = [paths.root("chunk"), paths.root("manifest")];
    const dirs = new FanoutDirs(roots, options.fsync ? new DirSyncer() : undefined);
    const files = new FileLayout({ paths, dirs, fsync: options.fsync });
    const counts: Record<ObjectKind, number> = { chunk: 0, manifest: 0 };
    let storedBytes = 0;
    for (const kind of ["chunk", "manifest"] as const) {
      // In the order reads look: a copy an earlier layout holds hides a later one's.
      const earlier: ObjectLayout[] = [];
      for (const layout of [packs, files]) {
        const hidden = (id: string) => earlier.some((l) => l.sizeNow(kind, id) !== undefined);
        const found = options.changes && ((id: string, sum: string) => options.changes?.held(kind, id, sum));
        const held = await layout.count(kind, hidden, found);
        counts[kind] += held.count;
        storedBytes += held.bytes;
        earlier.push(layout);
      }
    }
    const capacity = new Capacity(options, counts, storedBytes);
    return { paths, lock: dirLock, nodeId, packs, files, capacity };
  } catch (err) {
    await packs?.close();
    dirLock.release();
    throw err;
  }
}
