import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { openBytes, sealBytes } from "../crypto/index.ts";

/** Key derivation labels: one key seals session cookies, another derives their CSRF tokens. */
const SALT = Buffer.from("dfs-mesh console", "utf8");
const SEAL_LABEL = Buffer.from("dfs-mesh console session seal v1", "utf8");
const CSRF_LABEL = Buffer.from("dfs-mesh console csrf v1", "utf8");

export const SESSION_COOKIE = "dfs_console";
/** How long a sign-in lasts. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** Cookies longer than this are not ours: refused before any work. */
const MAX_COOKIE_CHARS = 512;

/** What a session cookie holds, sealed: the access key id, its secret's fingerprint and an expiry. */
export interface Session {
  readonly keyId: string;
  /** The first 16 hex of SHA-256(secret): a key deleted and made again does not inherit sessions. */
  readonly secretPrint: string;
  readonly expiresMs: number;
}

export const secretPrint = (secret: string): string =>
  createHash("sha256").update(secret, "utf8").digest("hex").slice(0, 16);

/**
 * Session cookies sealed with AES-256-GCM under a key derived from the cluster key: any gateway of
 * the cluster opens them, none keeps state, and a browser cannot read or forge one. A session's
 * CSRF token is an HMAC of its sealed cookie, so it is bound to that sign-in and needs no storage.
 */
export class SessionSeal {
  readonly #seal: Buffer;
  readonly #csrf: Buffer;

  constructor(clusterKey: Buffer) {
    this.#seal = Buffer.from(hkdfSync("sha256", clusterKey, SALT, SEAL_LABEL, 32));
    this.#csrf = Buffer.from(hkdfSync("sha256", clusterKey, SALT, CSRF_LABEL, 32));
  }

  seal(session: Session): string {
    const json = JSON.stringify({ k: session.keyId, p: session.secretPrint, e: session.expiresMs });
    return sealBytes(this.#seal, Buffer.from(json, "utf8")).toString("base64url");
  }

  /** The session of a cookie value, or undefined when it does not open or has expired. */
  open(value: string, nowMs: number): Session | undefined {
    if (value.length > MAX_COOKIE_CHARS) return undefined;
    const plain = openBytes(this.#seal, Buffer.from(value, "base64url"));
    if (plain === undefined) return undefined;
    try {
      const v = JSON.parse(plain.toString("utf8")) as { k?: unknown; p?: unknown; e?: unknown };
      if (typeof v.k !== "string" || typeof v.p !== "string" || typeof v.e !== "number") return undefined;
      if (v.e <= nowMs) return undefined;
      return { keyId: v.k, secretPrint: v.p, expiresMs: v.e };
    } catch {
      return undefined;
    }
  }

  csrfToken(cookieValue: string): string {
    return createHmac("sha256", this.#csrf).update(cookieValue, "utf8").digest("base64url");
  }

  /** Whether `given` is the CSRF token of this cookie, compared in constant time. */
  csrfMatches(cookieValue: string, given: string | undefined): boolean {
    if (given === undefined) return false;
    const want = Buffer.from(this.csrfToken(cookieValue), "utf8");
    const got = Buffer.from(given, "utf8");
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/** The value of cookie `name` in a Cookie header, if present once. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
