import { hkdfSync } from "node:crypto";
import { LABELS, openBytes, SEALED_OVERHEAD, sealBytes } from "../crypto/index.ts";
import { DfsError } from "../errors.ts";

/**
 * An access key's secret, sealed with a key of its own derived from the cluster key:
 *
 *   secret key = HKDF-SHA256(ikm = cluster key, salt = "dfs-mesh/v1", info = "dfs-mesh/v1/access-key-secret", 32)
 *
 *   offset  size  field
 *   0       1     format = SECRET_FORMAT (0x01)
 *   1       12    nonce, random
 *   13      n     ciphertext of the secret's UTF-8
 *   13+n    16    GCM tag
 *   additional data: the format byte, u8 id length, the key id's UTF-8, then `bound` (the rest
 *   of the key's record, record.ts)
 *
 * The nonce argument: nonces are 96 random bits under one key; a secret is sealed once per key
 * created or changed, so even 2^32 seals keep the chance of a repeated nonce below 2^-32. The
 * additional data stops a sealed secret from being moved under another id, and the name, grants
 * and creation time beside it from being altered: they open only as they were sealed.
 */
export const SECRET_FORMAT = 0x01;

export class SecretSealer {
  readonly #key: Buffer;

  constructor(clusterKey: Buffer) {
    if (clusterKey.length !== 32) throw new DfsError("DFS_ERR_CONFIG", "the cluster key must be 32 bytes");
    this.#key = Buffer.from(hkdfSync("sha256", clusterKey, LABELS.salt, LABELS.accessKeySecret, 32));
  }

  seal(id: string, secret: string, bound = ""): Buffer {
    const head = Buffer.of(SECRET_FORMAT);
    return Buffer.concat([
      head,
      sealBytes(this.#key, Buffer.from(secret, "utf8"), additional(head, id, bound)),
    ]);
  }

  /**
   * The secret; DFS_ERR_CORRUPT when the bytes or `bound` were altered, moved to another id, or
   * sealed with another key.
   */
  open(id: string, sealed: Buffer, bound = ""): string {
    if (sealed.length < 1 + SEALED_OVERHEAD || sealed[0] !== SECRET_FORMAT)
      throw new DfsError("DFS_ERR_CORRUPT", `the sealed secret of access key ${id} has an unknown format`);
    const plain = openBytes(this.#key, sealed.subarray(1), additional(sealed.subarray(0, 1), id, bound));
    if (plain === undefined)
      throw new DfsError("DFS_ERR_CORRUPT", `the sealed secret of access key ${id} does not open`);
    return plain.toString("utf8");
  }
}

function additional(head: Buffer, id: string, bound: string): Buffer {
  const idBytes = Buffer.from(id, "utf8");
  return Buffer.concat([head, Buffer.of(idBytes.length), idBytes, Buffer.from(bound, "utf8")]);
}
