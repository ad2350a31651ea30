import { readFileSync } from "node:fs";
import { DfsError } from "../errors.ts";

/** What a key may do. `admin`: membership, file placement (`/meta`) and metrics. */
export const PERMISSIONS = ["read", "write", "delete", "admin"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * One permission over a scope. Every grant is cluster-wide ("*") for now; a bucket name will go in
 * `scope` when buckets exist (`read@photos` in a keys file is refused until then).
 */
export interface Grant {
  readonly permission: Permission;
  readonly scope: "*";
}

export interface ApiKey {
  /** Shown in logs and metrics; never the secret. */
  readonly name: string;
  readonly secret: string;
  readonly grants: readonly Grant[];
}

export const MIN_SECRET_LENGTH = 16;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SECRET = /^[\x21-\x7e]+$/;

const everything = (): Grant[] => PERMISSIONS.map((permission) => ({ permission, scope: "*" }));

/** The keys of `gateway.apiKeys`: every permission, named by position. */
export function fullKeys(secrets: readonly string[]): ApiKey[] {
  return secrets.map((secret, i) => ({ name: `apiKeys[${i}]`, secret, grants: everything() }));
}

function parseGrants(field: string, where: string): Grant[] {
  const grants: Grant[] = [];
  for (const word of field.split(",").map((w) => w.trim())) {
    if (word === "all") {
      grants.push(...everything());
    } else if (word.includes("@")) {
      throw new DfsError("DFS_ERR_CONFIG", `${where}: "${word}": grants per bucket are not supported yet`);
    } else if ((PERMISSIONS as readonly string[]).includes(word)) {
      grants.push({ permission: word as Permission, scope: "*" });
    } else {
      throw new DfsError(
        "DFS_ERR_CONFIG",
        `${where}: unknown permission "${word}" (expected ${PERMISSIONS.join(", ")} or all)`,
      );
    }
  }
  return grants;
}

/**
 * A keys file: one key per line, `name:secret:perms`, perms a comma-separated list of read, write,
 * delete, admin (or `all`). Blank lines and lines starting with # are skipped. The secret may hold
 * colons (the name ends at the first, the permissions start after the last). Messages name the line,
 * never the secret.
 */
export function parseKeysFile(text: string, path: string): ApiKey[] {
  const keys: ApiKey[] = [];
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${path}:${i + 1}`;
    const first = line.indexOf(":");
    const last = line.lastIndexOf(":");
    if (first < 0 || last === first) {
      throw new DfsError("DFS_ERR_CONFIG", `${where}: expected name:secret:perms`);
    }
    const name = line.slice(0, first);
    const secret = line.slice(first + 1, last);
    if (!NAME.test(name)) {
      throw new DfsError("DFS_ERR_CONFIG", `${where}: a key name is 1-64 of A-Z a-z 0-9 . _ -`);
    }
    if (secret.length < MIN_SECRET_LENGTH || !SECRET.test(secret)) {
      throw new DfsError(
        "DFS_ERR_CONFIG",
        `${where}: the secret of key "${name}" must be at least ${MIN_SECRET_LENGTH} printable characters, no spaces`,
      );
    }
    if (names.has(name)) throw new DfsError("DFS_ERR_CONFIG", `${where}: key "${name}" is listed twice`);
    if (secrets.has(secret)) {
      throw new DfsError("DFS_ERR_CONFIG", `${where}: key "${name}" has the secret of an earlier key`);
    }
    names.add(name);
    secrets.add(secret);
    keys.push({ name, secret, grants: parseGrants(line.slice(last + 1), where) });
  }
  return keys;
}

/** Reads and parses a keys file; DFS_ERR_CONFIG when it cannot be read or is malformed. */
export function readKeysFile(path: string): ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      `gateway.apiKeysFile: cannot read ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return parseKeysFile(text, path);
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return (
    h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
}
