import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { ApiKey, Grant, Permission } from "../config/index.ts";
import { DfsError } from "../errors.ts";

/** What a route needs: nothing (health), or a permission a key must grant when keys are in use. */
export type Access = "public" | Permission;

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

interface Held {
  readonly name: string;
  readonly digest: Buffer;
  readonly grants: readonly Grant[];
}

/** Whether the grants allow `permission`; `scope` (a bucket) is for grants per bucket, to come. */
export function allows(grants: readonly Grant[], permission: Permission, scope = "*"): boolean {
  return grants.some((g) => g.permission === permission && (g.scope === "*" || g.scope === scope));
}

/**
 * Bearer API keys with permissions. Keys are compared as SHA-256 digests with timingSafeEqual, and
 * every key is compared, so neither a key's length, its content nor its place in the list leaks
 * through timing. `replace` swaps the whole set at once (a rotated keys file): a request sees the
 * old set or the new one, never a mix.
 */
export class ApiKeys {
  #held: readonly Held[] = [];
  /** False only for a gateway without keys (loopback or `anonymous`): then everyone may do everything. */
  readonly #keyed: boolean;
  readonly #protectReads: boolean;

  constructor(keys: readonly ApiKey[], options: { keyed: boolean; protectReads: boolean }) {
    this.#keyed = options.keyed;
    this.#protectReads = options.protectReads;
    this.replace(keys);
  }

  replace(keys: readonly ApiKey[]): void {
    this.#held = keys.map((k) => ({ name: k.name, digest: digest(k.secret), grants: k.grants }));
  }

  get names(): string[] {
    return this.#held.map((k) => k.name);
  }

  #find(secret: string): Held | undefined {
    const given = digest(secret);
    let found: Held | undefined;
    for (const k of this.#held) {
      if (timingSafeEqual(k.digest, given) && found === undefined) found = k;
    }
    return found;
  }

  /**
   * Throws UNAUTHORIZED (no key) or FORBIDDEN (a key that is not ours, or lacks the permission)
   * when the route needs a key; returns the name of the key used, if any.
   */
  check(request: FastifyRequest, access: Access): string | undefined {
    if (!this.#keyed || access === "public") return undefined;
    if (access === "read" && !this.#protectReads) return undefined;
    const header = request.headers.authorization;
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m) {
      throw new DfsError(
        "DFS_ERR_UNAUTHORIZED",
        `this request needs an API key with ${access} permission: Authorization: Bearer KEY`,
      );
    }
    const key = this.#find(m[1]!);
    if (key === undefined) throw new DfsError("DFS_ERR_FORBIDDEN", "the API key is not accepted");
    if (!allows(key.grants, access)) {
      throw new DfsError("DFS_ERR_FORBIDDEN", `the API key "${key.name}" has no ${access} permission`);
    }
    return key.name;
  }
}
