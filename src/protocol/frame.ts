/**
 * Frame layout, version 1. Every message on a node-protocol connection is one frame:
 *
 *   0       1       2       3       4       5       6       7       8       9       10      11
 *   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
 *   | ver   | type  | flags (u16 BE)| request id (u32 BE)           | body length (u32 BE)          |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
 *   | body (length bytes) ...
 *
 * - ver: PROTOCOL_VERSION; a peer speaking another version gets ERROR(DFS_ERR_VERSION) and a close.
 * - request id: chosen by the requester, unique among its requests in flight on this connection;
 *   0 is reserved for the handshake. Replies and stream frames carry the request's id.
 * - body length: checked against the limit for the frame type BEFORE anything is allocated. After
 *   the handshake every body ends in a 16-byte tag (src/protocol/seal.ts), counted in the length.
 * Mirrored byte for byte in docs/protocol.md.
 */
export const PROTOCOL_VERSION = 2;
export const HEADER_BYTES = 12;

export const FrameType = {
  HELLO: 0x01,
  SERVER_HELLO: 0x02,
  AUTH: 0x03,
  READY: 0x04,
  /** Several frames sealed as one, after the handshake (src/protocol/batch.ts). */
  BATCH: 0x05,
  PING: 0x10,
  PUT: 0x11,
  GET: 0x12,
  HAS: 0x13,
  // 0x14 is reserved: never reused. No message lets a peer delete; a node removes objects only
  // by its own repair and garbage collection (src/node/heal).
  STAT: 0x15,
  LIST: 0x16,
  TABLE_WRITE: 0x17,
  TABLE_READ: 0x18,
  /** Digests of what a node holds, for anti-entropy between nodes (sync-messages.ts). */
  SYNC: 0x19,
  DATA: 0x20,
  RESULT: 0x21,
  ERROR: 0x22,
  CANCEL: 0x23,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));
export function isFrameType(value: number): value is FrameType {
  return KNOWN_TYPES.has(value);
}

export const FrameFlags = {
  /** On DATA: the last frame of the stream. */
  END: 0x0001,
  /**
   * On DATA after the handshake: the tag covers the bytes as well as the header (a GMAC). Without
   * it the tag covers the header only: the sender leaves it off for whole chunks alone, which every
   * receiver checks against their content id (docs/protocol.md, "Sealed frames").
   */
  BYTES_TAGGED: 0x0002,
} as const;

/** Hard limits. A frame over its limit is a protocol violation: ERROR, then close. */
export const Limits = {
  /** Any non-DATA frame body. */
  MAX_CONTROL_BODY: 64 * 1024,
  /** One DATA frame body; streams are split into pieces of at most this. */
  MAX_DATA_BODY: 1024 * 1024,
  /** The piece size senders use for DATA frames: about what one socket read delivers. */
  DATA_PIECE: 256 * 1024,
  MAX_FORWARD: 15,
  MAX_HAS_IDS: 1024,
  MAX_LIST_LIMIT: 1000,
  /** Records in one TABLE_WRITE (the 64 KiB body is the tighter bound for all but tiny records). */
  MAX_TABLE_BATCH: 1024,
  /** Table records one PUT may carry (a chunk's references: an upload's hold, or what repair copies). */
  MAX_PUT_RECORDS: 16,
  /** Records a TABLE_READ range may ask for; a node may answer fewer, to fit the body limit. */
  MAX_TABLE_READ_LIMIT: 1000,
  /** Bytes of UTF-8 in any `str` field. */
  MAX_STRING: 1024,
  /** Bytes of UTF-8 an ERROR's or a failed replica's message is cut to (whole characters only). */
  MAX_ERROR_MESSAGE: 512,
} as const;

export interface FrameHeader {
  version: number;
  type: number;
  flags: number;
  requestId: number;
  length: number;
}

/** The largest body of a frame of `type`, not counting the tag that follows it once sealed. */
export function maxBodyFor(type: number): number {
  return type === FrameType.DATA ? Limits.MAX_DATA_BODY : Limits.MAX_CONTROL_BODY;
}

/** The AEAD tag that ends every frame body after the handshake (AES-256-GCM). */
export const TAG_BYTES = 16;

export function encodeHeader(type: FrameType, requestId: number, length: number, flags = 0): Buffer {
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  h[0] = PROTOCOL_VERSION;
  h[1] = type;
  h.writeUInt16BE(flags, 2);
  h.writeUInt32BE(requestId >>> 0, 4);
  h.writeUInt32BE(length, 8);
  return h;
}

export function decodeHeader(buf: Buffer, offset = 0): FrameHeader {
  return {
    version: buf[offset]!,
    type: buf[offset + 1]!,
    flags: buf.readUInt16BE(offset + 2),
    requestId: buf.readUInt32BE(offset + 4),
    length: buf.readUInt32BE(offset + 8),
  };
}

/** A whole frame in one buffer: for small control frames and tests. */
export function encodeFrame(type: FrameType, requestId: number, body: Buffer = EMPTY, flags = 0): Buffer {
  return Buffer.concat([encodeHeader(type, requestId, body.length, flags), body]);
}

export const EMPTY: Buffer = Buffer.alloc(0);
