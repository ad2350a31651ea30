import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { DfsError } from "../errors.ts";
import { KEY_BYTES, LABELS } from "./format.ts";

/**
 * Everything derived from the cluster key, each under its own label (format.ts):
 *
 *   chunk key      = HKDF-SHA256(ikm = cluster key, salt = "dfs-mesh/v1",
 *                                info = "dfs-mesh/v1/chunk-key" || sha256(plaintext chunk), 32)
 *   manifest key   = HKDF-SHA256(same, info = "dfs-mesh/v1/manifest-key"   || sha256(file), 32)
 *   manifest nonce key = HKDF-SHA256(same, info = "dfs-mesh/v1/manifest-nonce" || sha256(file), 32)
 *   manifest id key    = HKDF-SHA256(same, info = "dfs-mesh/v1/manifest-id", 32)
 *   manifest id    = HMAC-SHA256(manifest id key, sha256(file)) as hex
 *
 * Labels have distinct, fixed prefixes and hashes are always 32 raw bytes, so no two inputs to
 * HKDF can collide across purposes.
 *
 * The nonce argument. A chunk key is a function of the plaintext's SHA-256, so one key only ever
 * encrypts one plaintext (two plaintexts sharing a key would be a SHA-256 collision). GCM's rule is
 * "never the same (key, nonce) for two different plaintexts"; with one plaintext per key that holds
 * for any nonce, so chunks use a fixed all-zero nonce and encrypting the same chunk twice yields the
 * same bytes, which is what makes de-duplication work. Manifests are different: two uploads of the
 * same file may write different manifests (name, createdAt) under the same key, so their nonce is
 * synthetic: an HMAC of the manifest's own bytes under a separate key (the SIV construction).
 * Different manifests get different nonces (up to a 2^-96 collision); an identical manifest gets
 * identical bytes, and that equality is all the nonce reveals.
 */
export class KeyRing {
  /** HKDF-Extract(salt, cluster key), kept as a KeyObject: the raw key is not kept at all. */
  readonly #prk: KeyObject;
  readonly #chunkLabel = Buffer.from(LABELS.chunkKey);
  readonly #manifestLabel = Buffer.from(LABELS.manifestKey);
  readonly #nonceLabel = Buffer.from(LABELS.manifestNonce);
  readonly #manifestIdKey: KeyObject;

  constructor(clusterKey: Buffer) {
    if (!Buffer.isBuffer(clusterKey) || clusterKey.length !== KEY_BYTES) {
      throw new DfsError("DFS_ERR_CONFIG", `the cluster key must be ${KEY_BYTES} bytes`);
    }
    this.#prk = createSecretKey(createHmac("sha256", Buffer.from(LABELS.salt)).update(clusterKey).digest());
    this.#manifestIdKey = this.#derive(Buffer.from(LABELS.manifestId));
  }

  /** AES-256 key of the chunk whose plaintext has this SHA-256 (32 raw bytes). */
  chunkKey(plainHash: Buffer): KeyObject {
    return this.#derive(Buffer.concat([this.#chunkLabel, plainHash]));
  }

  /** AES-256 key of the manifest of the file with this SHA-256 (32 raw bytes). */
  manifestKey(fileHash: Buffer): KeyObject {
    return this.#derive(Buffer.concat([this.#manifestLabel, fileHash]));
  }

  /** The key of the manifest's synthetic nonce (sealing only: opening reads the nonce). */
  manifestNonceKey(fileHash: Buffer): KeyObject {
    return this.#derive(Buffer.concat([this.#nonceLabel, fileHash]));
  }

  /** The id the manifest of the file with this SHA-256 (32 raw bytes) is stored under. */
  manifestId(fileHash: Buffer): string {
    return createHmac("sha256", this.#manifestIdKey).update(fileHash).digest("hex");
  }

  /**
   * HKDF-Expand(prk, info, 32) = HMAC-SHA256(prk, info || 0x01): one block is all 32 bytes need.
   * Written out rather than calling hkdfSync, which redoes the extract step and costs 2.5x; the
   * golden-vector test checks it against hkdfSync. Keys are returned as KeyObjects because
   * node:crypto takes ~10 µs longer to set up a cipher or HMAC from a Buffer key than from a
   * KeyObject (measured in bench/crypto.ts), which matters for small chunks.
   */
  #derive(info: Buffer): KeyObject {
    return createSecretKey(createHmac("sha256", this.#prk).update(info).update(ONE).digest());
  }
}

const ONE = Buffer.of(1);
