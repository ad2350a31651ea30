import { createHash } from "node:crypto";
import { DfsError } from "../errors.ts";

/**
 * The MD5 of a body (its ETag), computed as it passes through to the store. When an expected MD5
 * is given and differs, the body fails at its end with DFS_ERR_BAD_DIGEST, before the store makes
 * anything visible. (x-amz-checksum-* are verified by the S3 listener as the body arrives.)
 */
export class BodyDigests {
  readonly #md5 = createHash("md5");
  readonly #expectMd5: Buffer | undefined;
  #md5Digest: Buffer | undefined;

  constructor(expectMd5?: Buffer) {
    this.#expectMd5 = expectMd5;
  }

  wrap(body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    const self = this;
    return (async function* () {
      for await (const piece of body) {
        self.#md5.update(piece);
        yield piece;
      }
      const md5 = self.md5();
      if (self.#expectMd5 !== undefined && !md5.equals(self.#expectMd5)) {
        throw new DfsError("DFS_ERR_BAD_DIGEST", "the body's MD5 is not the Content-MD5 given");
      }
    })();
  }

  /** The MD5 of everything that passed (once the body ended). */
  md5(): Buffer {
    this.#md5Digest ??= this.#md5.digest();
    return this.#md5Digest;
  }
}
