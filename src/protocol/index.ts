export { BodyReader, BodyWriter, utf8Prefix } from "./codec.ts";
export { FrameDecoder, type FrameSink } from "./decoder.ts";
export {
  decodeHeader,
  EMPTY,
  encodeFrame,
  encodeHeader,
  FrameFlags,
  type FrameHeader,
  FrameType,
  HEADER_BYTES,
  Limits,
  PROTOCOL_VERSION,
} from "./frame.ts";
export { clientProof, NONCE_BYTES, newNonce, PROOF_BYTES, proofsEqual, serverProof } from "./handshake.ts";
export * from "./messages.ts";
export type { ListPage, NodeStat, ObjectKind, PutResult, ReplicaFailure } from "./types.ts";
