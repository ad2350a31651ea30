import { randomBytes } from "node:crypto";
import { rename as renameCb, statSync } from "node:fs";
import { rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectKind } from "../../formats/index.ts";
import type { FanoutDirs } from "./fanout-dirs.ts";
import { closeFd, isNotFound, openFd } from "./fsutil.ts";
import type { ObjectLayout, Staged, StageRequest } from "./object-layout.ts";
import { type DataPaths, headerBytes, TMP_MARK } from "./paths.ts";
import { type OpenedSource, openSource, type ReadRange, verifyObject } from "./reader.ts";
import { countObjects, listIds } from "./scan.ts";

export interface FileLayoutOptions {
  paths: DataPaths;
  dirs: FanoutDirs;
  /** fdatasync each object, and fsync its directory, before its write resolves. */
  fsync: boolean;
}

/**
 * A file per object: `chunks/ab/cd/<id>` holds a chunk's bytes, `manifests/ab/cd/<id>` a
 * manifest's 32-byte checksum, then its body. A write goes to a temp file beside the object
 * (`.tmp-<id>-...`), is hashed and synced, and is renamed into place under the object's lock;
 * then its directory is fsynced (fanout-dirs.ts).
 */
export class FileLayout implements ObjectLayout {
  readonly needsCopy = false;
  readonly #paths: DataPaths;
  readonly #dirs: FanoutDirs;
  readonly #fsync: boolean;
  readonly #tmpPrefix = `${process.pid}.${randomBytes(4).toString("hex")}`;
  #seq = 0;

  constructor(options: FileLayoutOptions) {
    this.#paths = options.paths;
    this.#dirs = options.dirs;
    this.#fsync = options.fsync;
  }

  async stage({ kind, id, size, checksum, hashLater }: StageRequest): Promise<Staged> {
    const dir = this.#paths.dirOf(kind, id);
    const path = join(dir, id);
    const tmpPath = join(dir, `${TMP_MARK}${id}-${this.#tmpPrefix}.${++this.#seq}`);
    let fd: number | undefined;
    try {
      await this.#dirs.ensure(dir);
      // Read-write when the body may have to be read back and hashed (hashLater).
      fd = await openFd(tmpPath, hashLater ? "wx+" : "wx", 0o640);
    } catch (err) {
      if (fd !== undefined) await closeFd(fd).catch(() => {});
      await rm(tmpPath, { force: true });
      throw err;
    }
    return {
      file: {
        tmpPath,
        fd,
        ...(kind === "manifest" ? { prefix: Buffer.from(checksum, "hex") } : {}),
        fsync: this.#fsync,
      },
      diskBytes: size + headerBytes(kind),
      place: async () => {
        await this.#dirs.ensure(dir);
        await new Promise<void>((resolve, reject) =>
          renameCb(tmpPath, path, (err) => (err ? reject(err) : resolve())),
        );
      },
      durable: () => this.#dirs.durable(dir),
    };
  }

  /**
   * Synchronous on purpose: a lookup in the dentry cache costs ~1 µs, a thread-pool round trip
   * ~25 µs, and a missing file (the usual case before a publish) does not build an Error.
   */
  sizeNow(kind: ObjectKind, id: string): number | undefined {
    const s = statSync(this.#paths.pathOf(kind, id), { throwIfNoEntry: false });
    return s === undefined ? undefined : Math.max(0, s.size - headerBytes(kind));
  }

  /**
   * On the thread pool, unlike sizeNow: the object's directory may not have been touched for
   * hours, and a lookup that has to read it from the disk must not stall the event loop.
   */
  async stat(kind: ObjectKind, id: string): Promise<{ size: number; writtenAt: number } | undefined> {
    try {
      const s = await stat(this.#paths.pathOf(kind, id));
      return { size: Math.max(0, s.size - headerBytes(kind)), writtenAt: s.mtimeMs };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  open(kind: ObjectKind, id: string, range: ReadRange): Promise<OpenedSource | undefined> {
    return openSource({ path: this.#paths.pathOf(kind, id), kind, id, header: headerBytes(kind), ...range });
  }

  async remove(kind: ObjectKind, id: string): Promise<number | undefined> {
    const size = (await this.stat(kind, id))?.size;
    if (size === undefined) return undefined;
    try {
      await unlink(this.#paths.pathOf(kind, id));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return size;
  }

  async quarantine(kind: ObjectKind, id: string, to: string): Promise<number | undefined> {
    const size = (await this.stat(kind, id))?.size;
    if (size === undefined) return undefined;
    await rename(this.#paths.pathOf(kind, id), to);
    return size;
  }

  verify(kind: ObjectKind, id: string, scratch: Buffer): Promise<boolean | undefined> {
    return verifyObject(this.#paths.pathOf(kind, id), kind, id, scratch);
  }

  list(kind: ObjectKind, after: string, max: number): Promise<string[]> {
    return listIds(this.#paths.root(kind), after, max);
  }

  /** A manifest's checksum is its file's first 32 bytes (read only when `found` asks); a chunk's, its id. */
  count(
    kind: ObjectKind,
    hidden: (id: string) => boolean,
    found?: (id: string, checksum: string) => void,
  ): Promise<{ count: number; bytes: number }> {
    return countObjects(this.#paths.root(kind), headerBytes(kind), hidden, found);
  }

  async close(): Promise<void> {}
}
