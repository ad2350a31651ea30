import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";

/** The x-amz-checksum-* algorithms this listener verifies. */
export const CHECKSUM_NAMES = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const;
export type ChecksumName = (typeof CHECKSUM_NAMES)[number];

export function isChecksumName(name: string): name is ChecksumName {
  return (CHECKSUM_NAMES as readonly string[]).includes(name);
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), slice-by-8 tables. */
const CRC32C_TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n]!;
    for (let k = 1; k < 8; k++) {
      c = t0[c & 0xff]! ^ (c >>> 8);
      tables[k]![n] = c >>> 0;
    }
  }
  return tables;
})();

/** Continues a CRC-32C over `data` from `crc` (0 to start). */
export function crc32c(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let c = ~crc >>> 0;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
  }
  for (; i < data.length; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5) as two 32-bit halves, table-driven. */
const CRC64_TABLES = (() => {
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let h = 0;
    let l = n;
    for (let k = 0; k < 8; k++) {
      const odd = l & 1;
      l = ((l >>> 1) | ((h & 1) << 31)) >>> 0;
      h >>>= 1;
      if (odd) {
        h = (h ^ 0x9a6c9329) >>> 0;
        l = (l ^ 0xac4bc9b5) >>> 0;
      }
    }
    hi[n] = h;
    lo[n] = l;
  }
  return { hi, lo };
})();

class Crc64Nvme implements Digest {
  #hi = 0xffffffff;
  #lo = 0xffffffff;
  update(data: Buffer): void {
    const { hi: th, lo: tl } = CRC64_TABLES;
    let h = this.#hi;
    let l = this.#lo;
    for (let i = 0; i < data.length; i++) {
      const idx = (l ^ data[i]!) & 0xff;
      l = (((l >>> 8) | (h << 24)) ^ tl[idx]!) >>> 0;
      h = ((h >>> 8) ^ th[idx]!) >>> 0;
    }
    this.#hi = h;
    this.#lo = l;
  }
  base64(): string {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.#hi >>> 0, 0);
    out.writeUInt32BE(~this.#lo >>> 0, 4);
    return out.toString("base64");
  }
}

interface Digest {
  update(data: Buffer): void;
  /** Base64 of the big-endian digest, as x-amz-checksum-* carries it. */
  base64(): string;
}

class CrcDigest implements Digest {
  #crc = 0;
  readonly #fn: (data: Buffer, crc: number) => number;
  constructor(fn: (data: Buffer, crc: number) => number) {
    this.#fn = fn;
  }
  update(data: Buffer): void {
    this.#crc = this.#fn(data, this.#crc);
  }
  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.#crc >>> 0);
    return out.toString("base64");
  }
}

class HashDigest implements Digest {
  readonly #hash: Hash;
  constructor(algorithm: string) {
    this.#hash = createHash(algorithm);
  }
  update(data: Buffer): void {
    this.#hash.update(data);
  }
  base64(): string {
    return this.#hash.digest("base64");
  }
}

export function newDigest(name: ChecksumName | "md5"): Digest {
  switch (name) {
    case "crc32":
      return new CrcDigest((d, c) => crc32(d, c));
    case "crc32c":
      return new CrcDigest(crc32c);
    case "crc64nvme":
      return new Crc64Nvme();
    default:
      return new HashDigest(name);
  }
}

export type { Digest };
