import { type FSWatcher, readFileSync, statSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { DfsError } from "../errors.ts";
import { type ApiKey, parseKeysFile } from "./keys.ts";

export interface KeysWatcher {
  /** Reads the file now (SIGHUP); applies it if its text changed. */
  reload(): void;
  close(): void;
}

export interface WatchOptions {
  /** How often the file is stat'ed, for the changes a notification misses (network file systems). */
  pollMs: number;
  /** The file's keys, each time its text changes to a valid file. */
  onKeys(keys: ApiKey[]): void;
  /** The file could not be read or parsed: the keys in use stay as they are. */
  onError(err: DfsError): void;
}

/** How long a changed file must stay unchanged before it is read. */
const SETTLE_MS = 100;

function signature(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return "missing";
  }
}

/**
 * Follows a keys file: fs.watch on its directory (editors and `mv` replace the file, which a watch
 * of the file itself would not follow) and a periodic stat, each read SETTLE_MS after the last
 * change, and reload() for SIGHUP, at once. A file that
 * becomes unreadable or malformed keeps the previous keys in force (and is reported), so a bad edit
 * never opens the gateway nor locks everyone out. The file is also read at once, so a change made
 * since the config loader read it is not missed.
 */
export function watchKeysFile(path: string, options: WatchOptions): KeysWatcher {
  let lastText: string | undefined;
  let lastSignature = signature(path);
  let closed = false;

  const reload = () => {
    if (closed) return;
    lastSignature = signature(path);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      options.onError(
        new DfsError("DFS_ERR_CONFIG", `cannot read ${path}: ${(err as Error).message}`, { cause: err }),
      );
      return;
    }
    if (text === lastText) return;
    let keys: ApiKey[];
    try {
      keys = parseKeysFile(text, path);
    } catch (err) {
      options.onError(err instanceof DfsError ? err : new DfsError("DFS_ERR_CONFIG", String(err)));
      return;
    }
    lastText = text;
    options.onKeys(keys);
  };

  // A write in place shows up as several events, the first maybe of an empty file: read once
  // they have settled.
  let settle: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(settle);
    settle = setTimeout(reload, SETTLE_MS);
    settle.unref();
  };
  const name = basename(path);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) changed();
    });
    watcher.on("error", () => {
      // The periodic stat still follows the file.
      watcher?.close();
    });
  } catch {
    watcher = undefined;
  }
  const poll = setInterval(() => {
    if (signature(path) !== lastSignature) changed();
  }, options.pollMs);
  poll.unref();

  reload();
  return {
    reload,
    close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(settle);
      watcher?.close();
    },
  };
}
