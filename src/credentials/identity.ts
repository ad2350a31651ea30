import type { KeyObject } from "node:crypto";
import { DfsError } from "../errors.ts";
import {
  type Credential,
  decodeCredential,
  issueCredential,
  MAX_CLOCK_SKEW_MS,
  type Role,
  verifyCredential,
} from "./credential.ts";
import {
  newSeed,
  publicKeyObject,
  type SigningKey,
  signingKeyFromSeed,
  signLabelled,
  verifyLabelled,
} from "./ed25519.ts";

/** What a process holds to act in its role: its credential and the private key it names. */
export interface Identity {
  readonly credential: Credential;
  readonly key: SigningKey;
}

export function signAs(identity: Identity, label: string, message: Buffer): Buffer {
  return signLabelled(identity.key.privateKey, label, message);
}

/** Makes a fresh key pair and has the authority vouch for it: `dfs credential issue` and dev clusters. */
export function issueIdentity(
  authority: SigningKey,
  role: Role,
  id: string,
  nowMs: number,
  lifetimeMs: number,
): { identity: Identity; seed: Buffer } {
  const seed = newSeed();
  const key = signingKeyFromSeed(seed);
  const credential = issueCredential(authority, {
    role,
    id,
    publicKey: key.publicKey,
    issuedAtMs: nowMs,
    notAfterMs: nowMs + lifetimeMs,
  });
  return { identity: { credential, key }, seed };
}

const FILE_HEADER = "dfs-identity v1";

/** An identity file: a header line, the credential and the private seed, base64, one per line. */
export function encodeIdentityFile(credential: Credential, seed: Buffer): string {
  return `${FILE_HEADER}\ncredential ${credential.encoded.toString("base64")}\nseed ${seed.toString("base64")}\n`;
}

/** Reads an identity file's text; the credential must name the seed's public key. */
export function decodeIdentityFile(text: string): Identity {
  const lines = text.trim().split(/\r?\n/);
  const field = (name: string): Buffer => {
    const line = lines.find((l) => l.startsWith(`${name} `));
    if (line === undefined) throw new DfsError("DFS_ERR_CONFIG", `identity file: no "${name}" line`);
    return Buffer.from(line.slice(name.length + 1).trim(), "base64");
  };
  if (lines[0] !== FILE_HEADER)
    throw new DfsError("DFS_ERR_CONFIG", `identity file: expected "${FILE_HEADER}"`);
  const credential = decodeCredential(field("credential"));
  const key = signingKeyFromSeed(field("seed"));
  if (!key.publicKey.equals(credential.publicKey)) {
    throw new DfsError("DFS_ERR_CONFIG", "identity file: the seed is not the credential's key");
  }
  return { credential, key };
}

const CACHE_ENTRIES = 1024;

/**
 * The one trust anchor: the authority's public key. Checks credentials (remembering the ones it
 * verified until they expire, since a gateway's credential comes with every object it signs) and
 * signatures made under a verified credential.
 */
export class TrustAnchor {
  readonly #authority: KeyObject;
  readonly #now: () => number;
  readonly #verified = new Map<string, Credential>();
  /** Key objects of the credentials seen: building one costs about as much as a verify. */
  readonly #keys = new Map<string, KeyObject>();

  constructor(authorityPublicKey: Buffer, now: () => number = Date.now) {
    this.#authority = publicKeyObject(authorityPublicKey);
    this.#now = now;
  }

  /** The credential if the authority issued it and it is in force now (and of `role`); else DFS_ERR_AUTH. */
  credential(encoded: Buffer, role?: Role): Credential {
    return this.#check(encoded, role, this.#now());
  }

  #check(encoded: Buffer, role: Role | undefined, now: number): Credential {
    const cacheKey = encoded.toString("base64");
    const cached = this.#verified.get(cacheKey);
    if (cached !== undefined && now <= cached.notAfterMs && cached.issuedAtMs <= now + MAX_CLOCK_SKEW_MS) {
      if (role !== undefined && cached.role !== role) {
        throw new DfsError("DFS_ERR_AUTH", `credential: role ${cached.role}, expected ${role}`);
      }
      return cached;
    }
    const credential = verifyCredential(this.#authority, encoded, now, role);
    if (this.#verified.size >= CACHE_ENTRIES) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(cacheKey, credential);
    return credential;
  }

  /**
   * The credential if the authority issued it and it was in force at `atMs` (of `role`); else
   * DFS_ERR_AUTH. For what was signed at a known time and outlives the credential: a stored
   * object's version stays vouched for after its gateway's credential expired.
   */
  credentialAt(encoded: Buffer, atMs: number, role?: Role): Credential {
    return this.#check(encoded, role, atMs);
  }

  /** Whether `signature` over `label || message` was made by the holder of `credential` (already verified). */
  signedBy(credential: Credential, label: string, message: Buffer, signature: Buffer): boolean {
    const raw = credential.publicKey.toString("base64");
    let key = this.#keys.get(raw);
    if (key === undefined) {
      key = publicKeyObject(credential.publicKey);
      if (this.#keys.size >= CACHE_ENTRIES) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(raw, key);
    }
    return verifyLabelled(key, label, message, signature);
  }
}
