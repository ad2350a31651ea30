import { existsSync } from "node:fs";
import { basename } from "node:path";
import { DfsError } from "../../errors.ts";
import { splitName } from "../client/names-client.ts";

const REMOTE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\//;

/** "bucket/..." and not a local path: a name in the cluster. */
export function isRemote(arg: string): boolean {
  return REMOTE.test(arg) && !existsSync(arg);
}

/** bucket/key; a key ending in "/" (or none) takes the local file's name after it. */
export function remoteKey(arg: string, localPath?: string): { bucket: string; key: string } {
  const { bucket, key } = splitName(arg);
  const full =
    key === "" || key.endsWith("/") ? `${key}${localPath === undefined ? "" : basename(localPath)}` : key;
  if (full === "") throw new DfsError("DFS_ERR_CONFIG", `expected bucket/key, got "${arg}"`);
  return { bucket, key: full };
}
