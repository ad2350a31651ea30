import { DfsError } from "../errors.ts";
import type { TableRecord } from "../formats/index.ts";
import type { TableClient } from "../tables/index.ts";
import { OBJECTS_TABLE } from "./records.ts";
import { keyBytes, MAX_KEY_BYTES, prefixEnd } from "./rules.ts";
import type { ListOptions, ListPage, ObjectInfo } from "./types.ts";

/** Where a page starts: after a sort key (a key returned), or from one (past a common prefix). */
type Position = { after: Buffer } | { from: Buffer } | undefined;

/** Records read right after a jump past a common prefix. */
const JUMP_BATCH = 8;

const AFTER = 0x61; // "a"
const FROM = 0x66; // "f"

/** The opaque cursor of a position: base64url of a flag byte and the sort key. */
export function encodeCursor(p: { after: Buffer } | { from: Buffer }): string {
  const [flag, key] = "after" in p ? [AFTER, p.after] : [FROM, p.from];
  return Buffer.concat([Buffer.of(flag), key]).toString("base64url");
}

export function decodeCursor(cursor: string): { after: Buffer } | { from: Buffer } {
  const b = Buffer.from(cursor, "base64url");
  if (b.length < 2 || b.length > MAX_KEY_BYTES + 1 || b.toString("base64url") !== cursor) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", "not a listing cursor");
  }
  const key = b.subarray(1);
  if (b[0] === AFTER) return { after: key };
  if (b[0] === FROM) return { from: key };
  throw new DfsError("DFS_ERR_BAD_REQUEST", "not a listing cursor");
}

function startOf(options: ListOptions, prefix: Buffer): Position {
  if (options.cursor !== undefined && options.cursor !== "") return decodeCursor(options.cursor);
  if (options.startAfter !== undefined && options.startAfter !== "") {
    const after = Buffer.from(options.startAfter, "utf8");
    if (after.length > MAX_KEY_BYTES)
      throw new DfsError("DFS_ERR_INVALID_NAME", "start-after is a key (1024 bytes at most)");
    return { after };
  }
  return prefix.length > 0 ? { from: prefix } : undefined;
}

/**
 * One page of a bucket's keys, in byte order of their UTF-8, from range reads of the bucket's
 * "objects" partition. With a delimiter, the keys under a common prefix are never read: once one
 * is met, the next range starts at the end of that prefix (prefixEnd), so a page of 1,000 common
 * prefixes costs 1,000 short reads, however many keys lie under them. One record past the page is
 * read to tell whether it is truncated.
 */
export async function listKeys(
  tables: TableClient,
  bucket: string,
  options: ListOptions,
  toInfo: (key: string, record: TableRecord) => ObjectInfo,
): Promise<ListPage> {
  const limit = options.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", "a listing's limit is 1..1000");
  }
  const prefixText = options.prefix ?? "";
  const prefix = prefixText === "" ? Buffer.alloc(0) : keyBytes(prefixText);
  const delimiter = options.delimiter === "" ? undefined : options.delimiter;
  const partition = Buffer.from(bucket, "utf8");
  const page: ListPage = { objects: [], commonPrefixes: [], truncated: false };
  let position = startOf(options, prefix);
  let last: Position;
  let count = 0;
  // Records read at once: the rest of the page, but few right after a jump past a common prefix
  // (the next key is often under another one), growing while plain keys follow.
  let batch = limit + 1;
  for (;;) {
    const range = await tables.range(OBJECTS_TABLE, partition, {
      ...position,
      prefix: prefix.length > 0 ? prefix : undefined,
      limit: Math.min(batch, limit - count + 1),
    });
    let jumped = false;
    for (const record of range.records) {
      const key = record.sortKey.toString("utf8");
      const cut = delimiter === undefined ? -1 : key.indexOf(delimiter, prefixText.length);
      if (count === limit) {
        page.truncated = true;
        break;
      }
      count++;
      if (cut < 0) {
        page.objects.push(toInfo(key, record));
        page.lastName = key;
        last = { after: record.sortKey };
        continue;
      }
      const common = key.slice(0, cut + delimiter!.length);
      page.commonPrefixes.push(common);
      page.lastName = common;
      const end = prefixEnd(Buffer.from(common, "utf8"));
      last = end === undefined ? { after: record.sortKey } : { from: end };
      position = last;
      jumped = end !== undefined;
      break;
    }
    if (page.truncated) break;
    if (jumped) {
      batch = JUMP_BATCH;
      continue;
    }
    if (range.next === undefined) break;
    batch *= 4;
    position = { after: range.next };
  }
  if (page.truncated && last !== undefined) page.next = encodeCursor(last);
  return page;
}
