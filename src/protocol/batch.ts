import { DfsError } from "../errors.ts";
import {
  decodeHeader,
  type FrameHeader,
  FrameType,
  HEADER_BYTES,
  isFrameType,
  Limits,
  maxBodyFor,
  PROTOCOL_VERSION,
} from "./frame.ts";

/**
 * BATCH: several frames sealed as one, after the handshake. Its plaintext is the frames back to
 * back, each its 12-byte header (whose length is its body's: nothing inside carries a tag) and its
 * body; the BATCH frame's own tag authenticates them all, and its ciphertext hides them all, DATA
 * bytes included. A sender puts the small frames of one flush in one BATCH, so the cost of sealing
 * (a GCM context per sealed frame, several µs) is paid per flush instead of per frame; a receiver
 * opens it once and hands the frames on in order, after the tag checked, as if they had come one by
 * one (docs/protocol.md, "Sealed frames").
 */
export interface BatchedFrame {
  readonly type: FrameType;
  readonly requestId: number;
  readonly flags: number;
  readonly body: Buffer;
}

/** The largest BATCH plaintext: a control frame's body limit (the tag comes on top). */
export const MAX_BATCH_PLAINTEXT = Limits.MAX_CONTROL_BODY;

/** Frame types that never travel inside a BATCH: the handshake's, and BATCH itself. */
const NOT_BATCHED = new Set<number>([
  FrameType.HELLO,
  FrameType.SERVER_HELLO,
  FrameType.AUTH,
  FrameType.READY,
  FrameType.BATCH,
]);

/** Bytes a frame with this body takes inside a BATCH. */
export function batchedBytes(body: Buffer): number {
  return HEADER_BYTES + body.length;
}

/** The plaintext of a BATCH holding `frames`; `bytes` is the sum of their batchedBytes. */
export function batchPlaintext(frames: readonly BatchedFrame[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let pos = 0;
  for (const f of frames) {
    out[pos] = PROTOCOL_VERSION;
    out[pos + 1] = f.type;
    out.writeUInt16BE(f.flags, pos + 2);
    out.writeUInt32BE(f.requestId >>> 0, pos + 4);
    out.writeUInt32BE(f.body.length, pos + 8);
    f.body.copy(out, pos + HEADER_BYTES);
    pos += HEADER_BYTES + f.body.length;
  }
  return out;
}

function malformed(message: string): DfsError {
  return new DfsError("DFS_ERR_PROTOCOL", `BATCH: ${message}`);
}

/**
 * The frames of an opened BATCH, each body a view of `plain`. Checked whole before any is handed
 * on, with the rules of frames on the wire (version, type, length limit) and these: at least one
 * frame, no handshake frame or BATCH inside, the last frame ending exactly where the plaintext
 * does. Throws DFS_ERR_PROTOCOL otherwise.
 */
export function splitBatch(plain: Buffer): { header: FrameHeader; body: Buffer }[] {
  if (plain.length === 0) throw malformed("empty");
  const frames: { header: FrameHeader; body: Buffer }[] = [];
  let pos = 0;
  while (pos < plain.length) {
    if (plain.length - pos < HEADER_BYTES) throw malformed("ends inside a frame header");
    const header = decodeHeader(plain, pos);
    if (header.version !== PROTOCOL_VERSION) throw malformed(`a frame of version ${header.version} inside`);
    if (!isFrameType(header.type) || NOT_BATCHED.has(header.type)) {
      throw malformed(`frame type 0x${header.type.toString(16)} may not be batched`);
    }
    const start = pos + HEADER_BYTES;
    if (header.length > maxBodyFor(header.type) || header.length > plain.length - start) {
      throw malformed(`a frame body of ${header.length} bytes does not fit`);
    }
    frames.push({ header, body: plain.subarray(start, start + header.length) });
    pos = start + header.length;
  }
  return frames;
}
