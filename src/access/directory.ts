import { DfsError, isDfsError } from "../errors.ts";
import type { TableClient } from "../tables/index.ts";
import { checkGrantBucket, withGrant } from "./grants.ts";
import {
  ACCESS_PARTITION,
  ACCESS_TABLE,
  checkKeyName,
  decodeKey,
  encodeKey,
  KEY_ID,
  newKeyId,
  newSecret,
} from "./record.ts";
import { SecretSealer } from "./seal.ts";
import type { AccessKey, AccessKeyDirectory, BucketGrant } from "./types.ts";

/**
 * How long a gateway trusts what it read of a key. A deleted key, or a removed grant, stops
 * working on every gateway within this bound; a created key works everywhere at once, since a
 * key not in the cache is read at quorum, and an absent key is remembered no longer than this.
 */
export const ACCESS_CACHE_TTL_MS = 2000;
/** Keys remembered at most (the oldest forgotten first): bounds what random ids can make us hold. */
const MAX_CACHED = 10_000;
/** Records per range read of `list`. */
const LIST_PAGE = 1000;

export interface ClusterAccessKeysOptions {
  /** Quorum reads and writes (the gateway's TableClient). */
  tables: Pick<TableClient, "read" | "write" | "range">;
  /** The cluster key (32 bytes): secrets are sealed with a key derived from it. */
  clusterKey: Buffer;
  /** Default ACCESS_CACHE_TTL_MS. */
  ttlMs?: number;
  /** Milliseconds now, for the cache and `createdMs`. Default Date.now; tests give their own. */
  now?: () => number;
  /** Told of a record `list` leaves out because it does not open (DFS_ERR_CORRUPT). */
  onCorrupt?: (id: string, err: DfsError) => void;
}

interface Cached {
  readonly key: AccessKey | undefined;
  readonly untilMs: number;
}

/**
 * The access key directory over the tables (record layout in record.ts). Every change is a quorum
 * write, and `allow` and `remove` read the key at quorum first, so they see every acknowledged
 * change; two changes of one key at the same moment on two gateways keep the later version whole
 * (one grant may be lost, never half a record). Lookups are cached per gateway for `ttlMs`.
 */
export class ClusterAccessKeys implements AccessKeyDirectory {
  readonly #tables: ClusterAccessKeysOptions["tables"];
  readonly #sealer: SecretSealer;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #onCorrupt: ClusterAccessKeysOptions["onCorrupt"];
  readonly #cache = new Map<string, Cached>();
  readonly #reading = new Map<string, Promise<AccessKey | undefined>>();
  /** Changes made through this directory: a lookup's read that overlapped one is not cached. */
  #changes = 0;

  constructor(options: ClusterAccessKeysOptions) {
    this.#tables = options.tables;
    this.#sealer = new SecretSealer(options.clusterKey);
    this.#ttlMs = options.ttlMs ?? ACCESS_CACHE_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#onCorrupt = options.onCorrupt;
  }

  async lookup(id: string): Promise<AccessKey | undefined> {
    if (!KEY_ID.test(id)) return undefined;
    const held = this.#cache.get(id);
    if (held !== undefined && this.#now() < held.untilMs) return held.key;
    // Concurrent lookups of one id share one quorum read.
    let reading = this.#reading.get(id);
    if (reading === undefined) {
      // A change made here while the read was out is newer than what it found: keep the change.
      const changes = this.#changes;
      reading = this.#read(id).finally(() => this.#reading.delete(id));
      this.#reading.set(id, reading);
      reading.then(
        (key) => {
          if (this.#changes === changes) this.#remember(id, key);
        },
        () => {},
      );
    }
    return reading;
  }

  async create(name: string): Promise<AccessKey> {
    checkKeyName(name);
    const key: AccessKey = { id: newKeyId(), name, secret: newSecret(), grants: [], createdMs: this.#now() };
    await this.#write(key);
    return key;
  }

  async list(): Promise<AccessKey[]> {
    const keys: AccessKey[] = [];
    let after: Buffer | undefined;
    do {
      const page = await this.#tables.range(ACCESS_TABLE, ACCESS_PARTITION, { after, limit: LIST_PAGE });
      for (const r of page.records) {
        const id = r.sortKey.toString("utf8");
        try {
          keys.push(decodeKey(id, r.value, this.#sealer));
        } catch (err) {
          if (!isDfsError(err, "DFS_ERR_CORRUPT")) throw err;
          this.#onCorrupt?.(id, err);
        }
      }
      after = page.next;
    } while (after !== undefined);
    return keys;
  }

  async allow(id: string, grant: BucketGrant): Promise<AccessKey> {
    checkGrantBucket(grant.bucket);
    const key = await this.#read(id);
    if (key === undefined) throw new DfsError("DFS_ERR_NOT_FOUND", `no access key ${id}`);
    const changed = { ...key, grants: withGrant(key.grants, grant) };
    await this.#write(changed);
    return changed;
  }

  /** Removes the key's record, even one that no longer opens. */
  async remove(id: string): Promise<boolean> {
    if (!KEY_ID.test(id)) return false;
    if ((await this.#tables.read(ACCESS_TABLE, ACCESS_PARTITION, Buffer.from(id))) === undefined)
      return false;
    await this.#tables.write([
      { table: ACCESS_TABLE, partitionKey: ACCESS_PARTITION, sortKey: Buffer.from(id), deleted: true },
    ]);
    this.#changed(id, undefined);
    return true;
  }

  /** The key as a quorum of owners hold it, not cached. */
  async #read(id: string): Promise<AccessKey | undefined> {
    if (!KEY_ID.test(id)) return undefined;
    const record = await this.#tables.read(ACCESS_TABLE, ACCESS_PARTITION, Buffer.from(id));
    return record && decodeKey(id, record.value, this.#sealer);
  }

  async #write(key: AccessKey): Promise<void> {
    await this.#tables.write([
      {
        table: ACCESS_TABLE,
        partitionKey: ACCESS_PARTITION,
        sortKey: Buffer.from(key.id),
        value: encodeKey(key, this.#sealer),
      },
    ]);
    this.#changed(key.id, key);
  }

  #changed(id: string, key: AccessKey | undefined): void {
    this.#changes++;
    this.#remember(id, key);
  }

  #remember(id: string, key: AccessKey | undefined): void {
    this.#cache.delete(id);
    if (this.#cache.size >= MAX_CACHED) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(id, { key, untilMs: this.#now() + this.#ttlMs });
  }
}
