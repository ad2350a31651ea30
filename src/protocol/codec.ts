import { DfsError } from "../errors.ts";
import { Limits } from "./frame.ts";

/** Builds a control-frame body. Integers are big-endian; strings are u16 length + UTF-8. */
export class BodyWriter {
  #parts: Buffer[] = [];

  u8(v: number): this {
    const b = Buffer.allocUnsafe(1);
    b[0] = v;
    this.#parts.push(b);
    return this;
  }

  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v);
    this.#parts.push(b);
    return this;
  }

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v);
    this.#parts.push(b);
    return this;
  }

  /** A non-negative safe integer as u64. */
  u64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(v));
    this.#parts.push(b);
    return this;
  }

  /** Any u64, as a bigint (a clock reading). */
  u64n(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(v);
    this.#parts.push(b);
    return this;
  }

  bytes(b: Buffer): this {
    this.#parts.push(b);
    return this;
  }

  /** A 32-byte id given as 64 hex characters. */
  id(hex: string): this {
    return this.bytes(Buffer.from(hex, "hex"));
  }

  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    if (b.length > Limits.MAX_STRING)
      throw new DfsError("DFS_ERR_BAD_REQUEST", "string too long for the wire");
    return this.u16(b.length).bytes(b);
  }

  done(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/**
 * The longest prefix of `s` whose UTF-8 is at most `maxBytes`, cut between characters: an error
 * message cut by UTF-16 units could exceed the wire's byte limit or end in half a character.
 */
export function utf8Prefix(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s;
  const b = Buffer.from(s, "utf8");
  if (b.length <= maxBytes) return s;
  let end = maxBytes;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // back to the first byte of a character
  return b.toString("utf8", 0, end);
}

/** Reads a control-frame body; any underflow or bad value is a DFS_ERR_PROTOCOL. */
export class BodyReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  #need(n: number): number {
    if (this.#pos + n > this.#buf.length) throw new DfsError("DFS_ERR_PROTOCOL", "frame body too short");
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u8(): number {
    return this.#buf[this.#need(1)]!;
  }

  u16(): number {
    return this.#buf.readUInt16BE(this.#need(2));
  }

  u32(): number {
    return this.#buf.readUInt32BE(this.#need(4));
  }

  u64(): number {
    const v = this.#buf.readBigUInt64BE(this.#need(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DfsError("DFS_ERR_PROTOCOL", "integer out of range");
    return Number(v);
  }

  /** Any u64, as a bigint (a clock reading). */
  u64n(): bigint {
    return this.#buf.readBigUInt64BE(this.#need(8));
  }

  bytes(n: number): Buffer {
    const at = this.#need(n);
    return this.#buf.subarray(at, at + n);
  }

  id(): string {
    return this.bytes(32).toString("hex");
  }

  str(): string {
    const n = this.u16();
    if (n > Limits.MAX_STRING) throw new DfsError("DFS_ERR_PROTOCOL", "string too long");
    return this.bytes(n).toString("utf8");
  }

  /** A count field, bounded so a hostile count cannot make us loop or allocate. */
  count(max: number): number {
    const n = this.u16();
    if (n > max) throw new DfsError("DFS_ERR_PROTOCOL", `count ${n} exceeds ${max}`);
    return n;
  }

  /** Whether bytes are left: an optional trailing section follows. */
  get more(): boolean {
    return this.#pos < this.#buf.length;
  }

  /** The body must be fully consumed: trailing bytes mean a mismatched encoder. */
  end(): void {
    if (this.#pos !== this.#buf.length)
      throw new DfsError("DFS_ERR_PROTOCOL", "trailing bytes in frame body");
  }
}
