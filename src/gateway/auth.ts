import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Principal } from "../access/index.ts";
import type { ApiKey, Grant, Permission } from "../config/index.ts";
import { DfsError } from "../errors.ts";

/** What a route needs: nothing (health), or a permission a key must grant when keys are in use. */
export type Access = "public" | Permission;

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** Everyone, on a gateway without keys. */
export const EVERYONE: Principal = { kind: "configured", name: undefined, admin: true };

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

  /** Whether `secret` is one of the configured keys (compared as check does). */
  holds(secret: string): boolean {
    return this.#find(secret) !== undefined;
  }

  /** False for a gateway without keys (loopback or `anonymous`): everyone may do everything. */
  get keyed(): boolean {
    return this.#keyed;
  }

  /**
   * Who a request with a configured key (or none) is, when the route needs a key: UNAUTHORIZED
   * (no key) or FORBIDDEN (a key that is not ours, or lacks the permission). Undefined for a
   * public route, and for a read without a (valid) key while reads are open.
   */
  principal(request: FastifyRequest, access: Access): Principal | undefined {
    if (!this.#keyed) return EVERYONE;
    if (access === "public") return undefined;
    const openRead = access === "read" && !this.#protectReads;
    const token = bearerToken(request);
    if (token === undefined) {
      if (openRead) return undefined;
      throw new DfsError(
        "DFS_ERR_UNAUTHORIZED",
        `this request needs an API key with ${access} permission: Authorization: Bearer KEY`,
      );
    }
    const key = this.#find(token);
    if (key === undefined) {
      if (openRead) return undefined;
      throw new DfsError("DFS_ERR_FORBIDDEN", "the API key is not accepted");
    }
    if (!openRead && !allows(key.grants, access)) {
      throw new DfsError("DFS_ERR_FORBIDDEN", `the API key "${key.name}" has no ${access} permission`);
    }
    return { kind: "configured", name: key.name, admin: allows(key.grants, "admin") };
  }

  /** As `principal`, answering the name of the key used, if any. */
  check(request: FastifyRequest, access: Access): string | undefined {
    const p = this.principal(request, access);
    return p?.kind === "configured" ? p.name : undefined;
  }
}

/** The token of an `Authorization: Bearer TOKEN` header, if the request has one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header === undefined ? undefined : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];
}
