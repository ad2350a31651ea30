import { DfsError } from "../errors.ts";
import { openBatch } from "./batch.ts";
import {
  decodeHeader,
  FrameFlags,
  type FrameHeader,
  FrameType,
  HEADER_BYTES,
  isFrameType,
  maxBodyFor,
  PROTOCOL_VERSION,
  TAG_BYTES,
} from "./frame.ts";
import type { DataCheck, OpeningKey } from "./seal.ts";

/** Where decoded frames go. DATA bodies are delivered in pieces, never reassembled. */
export interface FrameSink {
  /** A whole non-DATA frame; `body` is owned by the sink. */
  onFrame(header: FrameHeader, body: Buffer): void;
  /**
   * Part of a DATA frame's body, in order: a view into the chunk given to push(), valid only
   * during this call (the transport reads sockets into one reused buffer). Copy what must stay.
   */
  onData(header: FrameHeader, piece: Buffer): void;
  /** A DATA frame is complete (its END flag marks the end of the stream). */
  onDataEnd(header: FrameHeader): void;
}

/**
 * Incremental frame parser: feed it socket chunks split anywhere. Lengths, versions and types are
 * checked as soon as a header is complete and before any body is allocated; a violation throws a
 * DfsError and the decoder must not be fed again. Control bodies are assembled (they are small)
 * into Buffers of their own; DATA bodies pass through as slices, so a 1 MiB chunk is never copied
 * here (the sink copies each piece once, to where it must go).
 *
 * Before the handshake is done, `admit` (set by the owner) sees every header before its body is
 * allocated and throws for anything but the handshake message it expects, at its size. Once
 * `open(keys)` is called, every frame must carry the peer's tag (src/protocol/seal.ts): control bodies are
 * decrypted before the sink sees them; DATA pieces reach the sink as they come, and the frame's
 * tag (over its header, and over its bytes when BYTES_TAGGED) is checked before onDataEnd and
 * before any later frame. A BATCH (src/protocol/batch.ts) is opened whole and its frames reach the
 * sink in order, as if they had come one by one: onFrame, or onData with the whole body and then
 * onDataEnd.
 */
export class FrameDecoder {
  readonly #sink: FrameSink;
  #headerBuf = Buffer.allocUnsafe(HEADER_BYTES);
  #headerFill = 0;
  #current: FrameHeader | undefined;
  #remaining = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #raw = Buffer.allocUnsafe(HEADER_BYTES);
  #keys: OpeningKey | undefined;
  #check: DataCheck | undefined;
  #tag = Buffer.allocUnsafe(TAG_BYTES);
  /** Bytes of the current DATA frame before its tag (sealed mode). */
  #payloadLeft = 0;
  /** Whether the current DATA frame's tag covers its bytes (FrameFlags.BYTES_TAGGED). */
  #tagBytes = false;
  /** Checks a header before its body is allocated; throws to refuse it. Unset: any valid frame. */
  admit: ((header: FrameHeader) => void) | undefined;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** True while a frame has been started but not finished (for detecting truncation at close). */
  get midFrame(): boolean {
    return this.#headerFill > 0 || this.#current !== undefined;
  }

  /** From the next frame on, every frame must be sealed under `keys` (call between frames). */
  open(keys: OpeningKey): void {
    this.#keys = keys;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#current === undefined) {
        const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - pos);
        chunk.copy(this.#headerBuf, this.#headerFill, pos, pos + take);
        this.#headerFill += take;
        pos += take;
        if (this.#headerFill < HEADER_BYTES) return;
        this.#headerFill = 0;
        this.#startFrame(decodeHeader(this.#headerBuf));
        continue;
      }
      const header = this.#current;
      const take = Math.min(this.#remaining, chunk.length - pos);
      if (header.type === FrameType.DATA && this.#check !== undefined) {
        const bytes = Math.min(take, this.#payloadLeft);
        if (bytes > 0) {
          const piece = chunk.subarray(pos, pos + bytes);
          if (this.#tagBytes) this.#check.update(piece);
          this.#payloadLeft -= bytes;
          this.#sink.onData(header, piece);
        }
        const tagBytes = take - bytes;
        if (tagBytes > 0) {
          const at = TAG_BYTES - (this.#remaining - bytes);
          chunk.copy(this.#tag, at, pos + bytes, pos + take);
        }
      } else if (header.type === FrameType.DATA) {
        this.#sink.onData(header, chunk.subarray(pos, pos + take));
      } else {
        chunk.copy(this.#body!, this.#bodyFill, pos, pos + take);
        this.#bodyFill += take;
      }
      pos += take;
      this.#remaining -= take;
      if (this.#remaining === 0) this.#finishFrame();
    }
  }

  #startFrame(header: FrameHeader): void {
    if (header.version !== PROTOCOL_VERSION) {
      throw new DfsError(
        "DFS_ERR_VERSION",
        `protocol version ${header.version}, expected ${PROTOCOL_VERSION}`,
      );
    }
    if (!isFrameType(header.type)) {
      throw new DfsError("DFS_ERR_PROTOCOL", `unknown frame type 0x${header.type.toString(16)}`);
    }
    const max = maxBodyFor(header.type) + (this.#keys === undefined ? 0 : TAG_BYTES);
    if (header.length > max) {
      throw new DfsError(
        "DFS_ERR_PROTOCOL",
        `frame body of ${header.length} bytes exceeds the limit of ${max}`,
      );
    }
    if (header.type === FrameType.BATCH && this.#keys === undefined) {
      throw new DfsError("DFS_ERR_PROTOCOL", "BATCH before the link is sealed");
    }
    this.admit?.(header);
    this.#current = header;
    this.#remaining = header.length;
    if (this.#keys !== undefined) {
      if (header.length < TAG_BYTES) throw new DfsError("DFS_ERR_AUTH", "link: frame shorter than its tag");
      this.#headerBuf.copy(this.#raw);
      if (header.type === FrameType.DATA) {
        this.#check = this.#keys.data(this.#raw);
        this.#tagBytes = (header.flags & FrameFlags.BYTES_TAGGED) !== 0;
        this.#payloadLeft = header.length - TAG_BYTES;
        header.length = this.#payloadLeft;
      }
    }
    if (header.type !== FrameType.DATA) {
      this.#body = Buffer.allocUnsafe(header.length);
      this.#bodyFill = 0;
    }
    if (this.#remaining === 0) this.#finishFrame();
  }

  #finishFrame(): void {
    const header = this.#current!;
    this.#current = undefined;
    if (header.type === FrameType.DATA) {
      const check = this.#check;
      this.#check = undefined;
      check?.verify(this.#tag);
      this.#sink.onDataEnd(header);
    } else {
      let body = this.#body!;
      this.#body = undefined;
      if (header.type === FrameType.BATCH) return this.#unbatch(openBatch(this.#keys!, this.#raw, body));
      if (this.#keys !== undefined) {
        body = this.#keys.open(this.#raw, body);
        header.length = body.length;
      }
      this.#sink.onFrame(header, body);
    }
  }

  #unbatch(frames: { header: FrameHeader; body: Buffer }[]): void {
    for (const { header, body } of frames) {
      if (header.type !== FrameType.DATA) {
        this.#sink.onFrame(header, body);
        continue;
      }
      if (body.length > 0) this.#sink.onData(header, body);
      this.#sink.onDataEnd(header);
    }
  }
}
