import { DfsError } from "../errors.ts";
import {
  decodeHeader,
  type FrameHeader,
  FrameType,
  HEADER_BYTES,
  isFrameType,
  maxBodyFor,
  PROTOCOL_VERSION,
} from "./frame.ts";

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
 */
export class FrameDecoder {
  readonly #sink: FrameSink;
  #headerBuf = Buffer.allocUnsafe(HEADER_BYTES);
  #headerFill = 0;
  #current: FrameHeader | undefined;
  #remaining = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** True while a frame has been started but not finished (for detecting truncation at close). */
  get midFrame(): boolean {
    return this.#headerFill > 0 || this.#current !== undefined;
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
      if (header.type === FrameType.DATA) {
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
    const max = maxBodyFor(header.type);
    if (header.length > max) {
      throw new DfsError(
        "DFS_ERR_PROTOCOL",
        `frame body of ${header.length} bytes exceeds the limit of ${max}`,
      );
    }
    this.#current = header;
    this.#remaining = header.length;
    if (header.type !== FrameType.DATA) {
      this.#body = Buffer.allocUnsafe(header.length);
      this.#bodyFill = 0;
    }
    if (header.length === 0) this.#finishFrame();
  }

  #finishFrame(): void {
    const header = this.#current!;
    this.#current = undefined;
    if (header.type === FrameType.DATA) {
      this.#sink.onDataEnd(header);
    } else {
      const body = this.#body!;
      this.#body = undefined;
      this.#sink.onFrame(header, body);
    }
  }
}
