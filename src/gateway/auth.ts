import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { DfsError } from "../errors.ts";

/** What a route gives access to: writes always need a key (when keys are set), reads only if asked. */
export type Access = "public" | "read" | "write";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual, so neither a key's
 * length nor its content leaks through timing.
 */
export class ApiKeys {
  readonly #digests: Buffer[];
  readonly #protectReads: boolean;

  constructor(keys: readonly string[], protectReads: boolean) {
    this.#digests = keys.map(digest);
    this.#protectReads = protectReads;
  }

  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  #needsKey(access: Access): boolean {
    if (!this.enabled || access === "public") return false;
    return access === "write" || this.#protectReads;
  }

  /** Throws UNAUTHORIZED (no key) or FORBIDDEN (a key that is not ours) when the route needs one. */
  check(request: FastifyRequest, access: Access): void {
    if (!this.#needsKey(access)) return;
    const header = request.headers.authorization;
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m)
      throw new DfsError("DFS_ERR_UNAUTHORIZED", "this request needs an API key: Authorization: Bearer KEY");
    const given = digest(m[1]!);
    let ok = false;
    for (const d of this.#digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new DfsError("DFS_ERR_FORBIDDEN", "the API key is not accepted");
  }
}
