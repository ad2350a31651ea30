import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { DfsError } from "../errors.ts";
import type { PutObjectResult } from "./types.ts";

type ChecksumName = "crc32" | "crc32c" | "sha1" | "sha256";

/** CRC-32C (Castagnoli), reflected, table-driven: S3's x-amz-checksum-crc32c. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function u32(n: number): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString("base64");
}

/**
 * The digests of a body, computed as it passes through to the store: MD5 always (the ETag), and
 * the checksums asked for. When an expected MD5 is given and differs, the body fails at its end
 * with DFS_ERR_BAD_DIGEST, before the store makes anything visible.
 */
export class BodyDigests {
  readonly #md5 = createHash("md5");
  readonly #hashes = new Map<ChecksumName, Hash>();
  readonly #crcs = new Map<ChecksumName, number>();
  readonly #expectMd5: Buffer | undefined;
  #md5Digest: Buffer | undefined;

  constructor(checksums: readonly ChecksumName[] = [], expectMd5?: Buffer) {
    for (const name of checksums) {
      if (name === "sha1" || name === "sha256") this.#hashes.set(name, createHash(name));
      else this.#crcs.set(name, 0);
    }
    this.#expectMd5 = expectMd5;
  }

  wrap(body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    const self = this;
    return (async function* () {
      for await (const piece of body) {
        self.#update(piece);
        yield piece;
      }
      const md5 = self.md5();
      if (self.#expectMd5 !== undefined && !md5.equals(self.#expectMd5)) {
        throw new DfsError("DFS_ERR_BAD_DIGEST", "the body's MD5 is not the Content-MD5 given");
      }
    })();
  }

  #update(piece: Buffer): void {
    this.#md5.update(piece);
    for (const h of this.#hashes.values()) h.update(piece);
    for (const [name, c] of this.#crcs)
      this.#crcs.set(name, name === "crc32" ? crc32(piece, c) : crc32c(piece, c));
  }

  /** The MD5 of everything that passed (once the body ended). */
  md5(): Buffer {
    this.#md5Digest ??= this.#md5.digest();
    return this.#md5Digest;
  }

  checksums(): PutObjectResult["checksums"] {
    const out: PutObjectResult["checksums"] = {};
    for (const [name, h] of this.#hashes) out[name] = h.digest("base64");
    for (const [name, c] of this.#crcs) out[name] = u32(c);
    return out;
  }
}
