import type { StoreOptions } from "../../src/node/store/index.ts";

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
