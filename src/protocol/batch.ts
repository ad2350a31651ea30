import { DfsError } from "../errors.ts";
import {
  decodeHeader,
  encodeHeader,
  type FrameHeader,
  FrameType,
  HEADER_BYTES,
  isFrameType,
  Limits,
  maxBodyFor,
  PROTOCOL_VERSION,
  TAG_BYTES,
} from "./frame.ts";
import type { OpeningKey, SealingKey } from "./seal.ts";

/**
 * BATCH: several frames sealed as one, after the handshake, so that sealing (a GCM context per
 * sealed frame: several µs and a JavaScript object) is paid per flush instead of per frame. Its
 * body:
 *
 *   u32 n ‖ n bytes: the DATA frames' bodies, back to back, in the clear ‖
 *   GCM ciphertext of the frames' headers and their control bodies ‖ tag (16)
 *
 * with the BATCH header ‖ u32 n ‖ the n bytes as associated data. Inside, every frame is its
 * 12-byte header (its length is its body's: nothing inside carries a tag of its own) and, for a
 * control frame, its body; a DATA frame's body is the next of the clear bytes, in order. So control
 * bodies cross encrypted, as in a frame of their own, and DATA bytes in the clear under the tag, as
 * in a DATA frame with BYTES_TAGGED, at GHASH speed. A receiver opens the BATCH whole, checks all
 * of it, then hands its frames on in order as if they had come one by one (docs/protocol.md,
 * "Sealed frames").
 */
export interface BatchedFrame {
  readonly type: FrameType;
  readonly requestId: number;
  readonly flags: number;
  readonly body: Buffer;
}

const COUNT_BYTES = 4;

/** The most a BATCH's body may carry besides its tag: a control frame's limit. */
export const MAX_BATCH_CONTENT = Limits.MAX_CONTROL_BODY - COUNT_BYTES;

/** Bytes a frame with this body takes inside a BATCH. */
export function batchedBytes(body: Buffer): number {
  return HEADER_BYTES + body.length;
}

/**
 * The BATCH of `frames` (`bytes`: the sum of their batchedBytes), sealed under `key`: the buffers
 * to write, in order (the header, the clear part, the ciphertext with its tag).
 */
export function sealBatch(key: SealingKey, frames: readonly BatchedFrame[], bytes: number): Buffer[] {
  let dataBytes = 0;
  for (const f of frames) if (f.type === FrameType.DATA) dataBytes += f.body.length;
  const clear = Buffer.allocUnsafe(COUNT_BYTES + dataBytes);
  clear.writeUInt32BE(dataBytes, 0);
  const plain = Buffer.allocUnsafe(bytes - dataBytes);
  let at = COUNT_BYTES;
  let pos = 0;
  for (const f of frames) {
    plain[pos] = PROTOCOL_VERSION;
    plain[pos + 1] = f.type;
    plain.writeUInt16BE(f.flags, pos + 2);
    plain.writeUInt32BE(f.requestId >>> 0, pos + 4);
    plain.writeUInt32BE(f.body.length, pos + 8);
    pos += HEADER_BYTES;
    if (f.type === FrameType.DATA) at += f.body.copy(clear, at);
    else pos += f.body.copy(plain, pos);
  }
  const header = encodeHeader(FrameType.BATCH, 0, clear.length + plain.length + TAG_BYTES);
  return [header, clear, key.seal(header, plain, clear)];
}

function malformed(message: string): DfsError {
  return new DfsError("DFS_ERR_PROTOCOL", `BATCH: ${message}`);
}

/** Frame types that never travel inside a BATCH: the handshake's, and BATCH itself. */
const NOT_BATCHED = new Set<number>([
  FrameType.HELLO,
  FrameType.SERVER_HELLO,
  FrameType.AUTH,
  FrameType.READY,
  FrameType.BATCH,
]);

/** Whether a frame of this type may travel inside a BATCH (all but the handshake's and BATCH). */
export function batchable(type: number): boolean {
  return !NOT_BATCHED.has(type);
}

/**
 * The frames of a BATCH whose header is `header` and body `body`, opened under `key` (DFS_ERR_AUTH
 * when its tag fails), each body a view of what was opened. Checked whole before any is handed on,
 * with the rules of frames on the wire (version, type, length limit) and these: at least one frame,
 * no handshake frame or BATCH inside, the frames ending exactly where the plaintext does and their
 * DATA bodies exactly where the clear bytes do. Throws DFS_ERR_PROTOCOL otherwise.
 */
export function openBatch(
  key: OpeningKey,
  header: Buffer,
  body: Buffer,
): { header: FrameHeader; body: Buffer }[] {
  if (body.length < COUNT_BYTES + TAG_BYTES) throw malformed("shorter than its count and tag");
  const dataBytes = body.readUInt32BE(0);
  if (dataBytes > body.length - COUNT_BYTES - TAG_BYTES) throw malformed("more clear bytes than it holds");
  const clearEnd = COUNT_BYTES + dataBytes;
  const plain = key.open(header, body.subarray(clearEnd), body.subarray(0, clearEnd));
  if (plain.length === 0) throw malformed("empty");
  const frames: { header: FrameHeader; body: Buffer }[] = [];
  let pos = 0;
  let at = COUNT_BYTES;
  while (pos < plain.length) {
    if (plain.length - pos < HEADER_BYTES) throw malformed("ends inside a frame header");
    const h = decodeHeader(plain, pos);
    pos += HEADER_BYTES;
    if (h.version !== PROTOCOL_VERSION) throw malformed(`a frame of version ${h.version} inside`);
    if (!isFrameType(h.type) || !batchable(h.type)) {
      throw malformed(`frame type 0x${h.type.toString(16)} may not be batched`);
    }
    const data = h.type === FrameType.DATA;
    const left = data ? clearEnd - at : plain.length - pos;
    if (h.length > maxBodyFor(h.type) || h.length > left) {
      throw malformed(`a frame body of ${h.length} bytes does not fit`);
    }
    if (data) {
      frames.push({ header: h, body: body.subarray(at, at + h.length) });
      at += h.length;
    } else {
      frames.push({ header: h, body: plain.subarray(pos, pos + h.length) });
      pos += h.length;
    }
  }
  if (at !== clearEnd) throw malformed("clear bytes left over");
  return frames;
}
