/**
 * The aws-chunked body encoding: `hex-size[;chunk-signature=sig]\r\n<bytes>\r\n` ... a zero-size
 * chunk, then optional trailers (`name:value\r\n`, the last one `x-amz-trailer-signature` when
 * signed) and an empty line. Decoded as it streams; each chunk signature is checked when its chunk
 * ends, so a bad one fails the body before it ends and the store keeps nothing of it.
 */
import { createHash, type Hash } from "node:crypto";
import { s3Error } from "./errors-xml.ts";
import { chunkStringToSign, sameSignature, sha256Hex, signHex, trailerStringToSign } from "./sigv4.ts";

/** What chunk signatures chain from: the request's signing key, date, scope and seed signature. */
export interface ChunkSigner {
  key: Buffer;
  amzDate: string;
  scope: string;
  seed: string;
}

export interface ChunkedOptions {
  /** Chunk headers carry `;chunk-signature=` (the STREAMING-AWS4-HMAC-SHA256-PAYLOAD kinds). */
  signedChunks: boolean;
  /** Verifies every chunk signature and the trailer signature; absent: they are parsed, not checked. */
  signer?: ChunkSigner | undefined;
  /** Trailers follow the last chunk. */
  trailer: boolean;
  /** x-amz-decoded-content-length, when sent: the decoded bytes must number exactly this. */
  decodedLength?: number | undefined;
}

const MAX_LINE = 4096;
const MAX_TRAILERS = 16;

const incomplete = () => s3Error("IncompleteBody", "the aws-chunked body ended early");
const malformed = (what: string) => s3Error("InvalidRequest", `malformed aws-chunked body: ${what}`);
const badSignature = (what: string) =>
  s3Error("SignatureDoesNotMatch", `the ${what} signature does not match`, "DFS_ERR_FORBIDDEN");

class Reader {
  readonly #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);

  constructor(source: AsyncIterable<Buffer>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  async #more(): Promise<boolean> {
    const r = await this.#it.next();
    if (r.done) return false;
    this.#buf = this.#buf.length === 0 ? r.value : Buffer.concat([this.#buf, r.value]);
    return true;
  }

  async line(): Promise<string> {
    for (;;) {
      const at = this.#buf.indexOf("\r\n");
      if (at >= 0) {
        const line = this.#buf.subarray(0, at).toString("latin1");
        this.#buf = this.#buf.subarray(at + 2);
        return line;
      }
      if (this.#buf.length > MAX_LINE) throw malformed("a line is too long");
      if (!(await this.#more())) throw incomplete();
    }
  }

  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#more())) throw incomplete();
      const piece = this.#buf.subarray(0, Math.min(left, this.#buf.length));
      this.#buf = this.#buf.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  /** Whether anything but nothing follows (extra bytes after the body's end are an error). */
  async atEnd(): Promise<boolean> {
    while (this.#buf.length === 0) if (!(await this.#more())) return true;
    return false;
  }

  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

function parseChunkHeader(line: string, signed: boolean): { size: number; signature: string | undefined } {
  const m = /^([0-9a-fA-F]{1,12})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(line);
  if (!m) throw malformed(`bad chunk header "${line.slice(0, 100)}"`);
  if (signed && m[2] === undefined) throw malformed("a chunk has no chunk-signature");
  if (!signed && m[2] !== undefined) throw malformed("a chunk-signature in an unsigned body");
  return { size: Number.parseInt(m[1]!, 16), signature: m[2] };
}

/**
 * The decoded bytes of an aws-chunked body. `trailers` receives the trailer values (lower-case
 * names) before the last piece is handed on, so a caller that checks them as the body ends can
 * still fail the upload.
 */
export async function* decodeAwsChunked(
  source: AsyncIterable<Buffer>,
  options: ChunkedOptions,
  trailers: Map<string, string>,
): AsyncGenerator<Buffer> {
  const reader = new Reader(source);
  const signer = options.signer;
  let previous = signer?.seed ?? "";
  let total = 0;
  try {
    for (;;) {
      const { size, signature } = parseChunkHeader(await reader.line(), options.signedChunks);
      total += size;
      if (options.decodedLength !== undefined && total > options.decodedLength) {
        throw s3Error("InvalidRequest", "the body is longer than x-amz-decoded-content-length");
      }
      const hash: Hash | undefined = signer === undefined ? undefined : createHash("sha256");
      for await (const piece of reader.take(size)) {
        hash?.update(piece);
        yield piece;
      }
      if (signer !== undefined && signature !== undefined) {
        const expected = signHex(
          signer.key,
          chunkStringToSign(signer.amzDate, signer.scope, previous, hash!.digest("hex")),
        );
        if (!sameSignature(expected, signature)) throw badSignature("chunk");
        previous = signature;
      }
      if (size === 0) break;
      if ((await reader.line()) !== "") throw malformed("a chunk does not end with CRLF");
    }
    if (options.decodedLength !== undefined && total !== options.decodedLength) throw incomplete();
    await readTrailers(reader, options, trailers, previous);
    if (!(await reader.atEnd())) throw malformed("bytes after the end of the body");
  } finally {
    await reader.close();
  }
}

async function readTrailers(
  reader: Reader,
  options: ChunkedOptions,
  trailers: Map<string, string>,
  previous: string,
): Promise<void> {
  const lines: string[] = [];
  let trailerSignature: string | undefined;
  for (;;) {
    const line = await reader.line();
    if (line === "") break;
    if (!options.trailer) throw malformed("trailers where none were announced");
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed("a trailer is not name:value");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "x-amz-trailer-signature") trailerSignature = value;
    else {
      if (lines.length >= MAX_TRAILERS) throw malformed("too many trailers");
      lines.push(`${name}:${value}\n`);
      trailers.set(name, value);
    }
  }
  if (options.signedChunks && options.trailer) {
    if (trailerSignature === undefined) throw malformed("the trailer signature is missing");
    const signer = options.signer;
    if (signer !== undefined) {
      const text = trailerStringToSign(signer.amzDate, signer.scope, previous, sha256Hex(lines.join("")));
      if (!sameSignature(signHex(signer.key, text), trailerSignature)) throw badSignature("trailer");
    }
  }
}
