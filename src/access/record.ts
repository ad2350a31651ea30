import { randomInt } from "node:crypto";
import { DfsError } from "../errors.ts";
import { EVERY_BUCKET, isBucketName } from "./grants.ts";
import type { SecretSealer } from "./seal.ts";
import type { AccessKey, BucketGrant } from "./types.ts";

/**
 * Where access keys live: table "access_keys", one partition ("keys"), sort key = the key id.
 * One partition keeps `list` one range read; a cluster holds few keys (thousands at most), and a
 * record is at most 32 KiB, which bounds the grants one key can carry (about 400).
 *
 * Value: UTF-8 JSON {"v":1,"name","secret":base64 of the sealed secret (seal.ts),"grants","createdMs"}.
 * Nodes see ids, names and grants in the clear, never a secret; the name, grants and creation time
 * are the sealed secret's additional data (`bound`), so nobody without the cluster key can alter
 * them (a replayed older record of the same key is not caught: records are not signed).
 */
export const ACCESS_TABLE = "access_keys";
export const ACCESS_PARTITION = Buffer.from("keys");

const ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** An access key id: "DK" and 18 upper-case letters or digits (S3 clients expect 20 characters). */
export const KEY_ID = /^DK[A-Z0-9]{18}$/;
export const SECRET_LENGTH = 40;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

const pick = (alphabet: string, n: number) =>
  Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join("");

/** A fresh id: 18 characters of 36 is 93 bits, so ids never collide in practice. */
export const newKeyId = (): string => `DK${pick(ALPHANUM, 18)}`;
/** A fresh secret: 40 characters of 64 is 240 bits. */
export const newSecret = (): string => pick(SECRET_CHARS, SECRET_LENGTH);

/** DFS_ERR_BAD_REQUEST unless `name` is 1-64 of A-Z a-z 0-9 . _ - */
export function checkKeyName(name: string): void {
  if (!NAME.test(name))
    throw new DfsError("DFS_ERR_BAD_REQUEST", "an access key's name is 1-64 of A-Z a-z 0-9 . _ -");
}

/** What the sealed secret's additional data binds: the rest of the record, in one canonical form. */
function bound(name: string, grants: readonly BucketGrant[], createdMs: number): string {
  const g = grants.map(({ bucket, read, write, owner }) => ({ bucket, read, write, owner }));
  return JSON.stringify({ name, grants: g, createdMs });
}

export function encodeKey(key: AccessKey, sealer: SecretSealer): Buffer {
  const value = {
    v: 1,
    name: key.name,
    secret: sealer.seal(key.id, key.secret, bound(key.name, key.grants, key.createdMs)).toString("base64"),
    grants: key.grants,
    createdMs: key.createdMs,
  };
  return Buffer.from(JSON.stringify(value), "utf8");
}

function corrupt(id: string, why: string): DfsError {
  return new DfsError("DFS_ERR_CORRUPT", `the record of access key ${id} is malformed: ${why}`);
}

function grantOf(id: string, g: unknown): BucketGrant {
  if (typeof g !== "object" || g === null) throw corrupt(id, "a grant is not an object");
  const { bucket, read, write, owner } = g as Record<string, unknown>;
  if (typeof bucket !== "string" || typeof read !== "boolean" || typeof write !== "boolean")
    throw corrupt(id, "a grant lacks its fields");
  if (typeof owner !== "boolean") throw corrupt(id, "a grant lacks its fields");
  if (bucket !== EVERY_BUCKET && !isBucketName(bucket)) throw corrupt(id, "a grant's bucket is not a name");
  return { bucket, read, write, owner };
}

/** The key a record holds, its secret opened; DFS_ERR_CORRUPT when it does not parse or open. */
export function decodeKey(id: string, value: Buffer, sealer: SecretSealer): AccessKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch (err) {
    throw new DfsError("DFS_ERR_CORRUPT", `the record of access key ${id} is not JSON`, { cause: err });
  }
  if (typeof parsed !== "object" || parsed === null) throw corrupt(id, "not an object");
  const r = parsed as Record<string, unknown>;
  if (r.v !== 1) throw corrupt(id, `unknown version ${String(r.v)}`);
  if (typeof r.name !== "string" || typeof r.secret !== "string" || typeof r.createdMs !== "number")
    throw corrupt(id, "fields missing");
  if (!Array.isArray(r.grants)) throw corrupt(id, "grants missing");
  const grants = r.grants.map((g) => grantOf(id, g));
  const secret = sealer.open(id, Buffer.from(r.secret, "base64"), bound(r.name, grants, r.createdMs));
  return { id, name: r.name, secret, grants, createdMs: r.createdMs };
}
