import { statfs } from "node:fs/promises";
import { DfsError } from "../../errors.ts";
import type { ObjectKind, StoreUsage } from "../../formats/index.ts";
import { DiskSpace } from "./disk-space.ts";

export interface CapacityOptions {
  dataDir: string;
  /** Disk space never given to objects. */
  reserveBytes: number;
  /** Bytes offered to the cluster; 0 means the disk's size. */
  capacityBytes: number;
}

/**
 * What the store holds (objects and bytes, by kind) and what it has promised to writes in
 * progress, against the configured capacity and the disk's free space. Space is promised before
 * the first await of a write, so concurrent writes cannot both take the last of it.
 */
export class Capacity {
  readonly #options: CapacityOptions;
  readonly #disk: DiskSpace;
  readonly #counts: Record<ObjectKind, number>;
  #storedBytes: number;
  /** Declared sizes of writes in progress: promised space, not yet on the disk. */
  #pendingBytes = 0;

  constructor(options: CapacityOptions, counts: Record<ObjectKind, number>, storedBytes: number) {
    this.#options = options;
    this.#disk = new DiskSpace(options.dataDir);
    this.#counts = counts;
    this.#storedBytes = storedBytes;
  }

  /** Promises `size` bytes to a write, or refuses with DFS_ERR_DISK_FULL; release() gives them back. */
  reserve(size: number): void {
    this.#checkCapacity(size);
    this.#pendingBytes += size;
    try {
      this.#checkDisk(size);
    } catch (err) {
      this.#pendingBytes -= size;
      throw err;
    }
  }

  release(size: number): void {
    this.#pendingBytes -= size;
  }

  /** An object of `size` now replaces one of `before` (undefined: it is new), taking `diskBytes`. */
  stored(kind: ObjectKind, before: number | undefined, size: number, diskBytes: number): void {
    if (before === undefined) this.#counts[kind]++;
    this.#storedBytes += size - (before ?? 0);
    this.#disk.wrote(diskBytes);
  }

  /** An object of `size` is gone. */
  forget(kind: ObjectKind, size: number): void {
    this.#counts[kind]--;
    this.#storedBytes -= size;
  }

  /**
   * freeBytes = min(disk available − reserve, capacity − stored when a capacity is set), never
   * negative. capacityBytes is the configured capacity, or the disk's size when none is set.
   */
  async stats(): Promise<StoreUsage> {
    const s = await statfs(this.#options.dataDir);
    const disk = { available: s.bavail * s.bsize, total: s.blocks * s.bsize };
    const { capacityBytes, reserveBytes } = this.#options;
    let freeBytes = disk.available - reserveBytes;
    if (capacityBytes > 0) freeBytes = Math.min(freeBytes, capacityBytes - this.#storedBytes);
    return {
      capacityBytes: capacityBytes > 0 ? capacityBytes : disk.total,
      freeBytes: Math.max(0, freeBytes),
      chunkCount: this.#counts.chunk,
      manifestCount: this.#counts.manifest,
      storedBytes: this.#storedBytes,
    };
  }

  /** Space promised to writes in progress counts as used, so concurrent writes cannot overbook. */
  #checkCapacity(size: number): void {
    const { capacityBytes } = this.#options;
    if (capacityBytes > 0 && this.#storedBytes + this.#pendingBytes + size > capacityBytes) {
      throw new DfsError(
        "DFS_ERR_DISK_FULL",
        `capacity of ${capacityBytes} bytes reached: ${this.#storedBytes} stored, ` +
          `${this.#pendingBytes} promised to writes in progress, ${size} requested`,
      );
    }
  }

  /**
   * Called with `size` already counted in #pendingBytes. The free space is a recent statfs minus
   * what was stored since (DiskSpace); a refusal is only made on a fresh one.
   */
  #checkDisk(size: number): void {
    const { reserveBytes } = this.#options;
    let available = this.#disk.available();
    if (available - this.#pendingBytes < reserveBytes) available = this.#disk.refresh().available;
    if (available - this.#pendingBytes < reserveBytes) {
      throw new DfsError(
        "DFS_ERR_DISK_FULL",
        `not enough free space for ${size} bytes: ${available} available on disk, ` +
          `${this.#pendingBytes - size} promised to other writes in progress, ${reserveBytes} kept in reserve`,
      );
    }
  }
}
