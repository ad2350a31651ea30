export {
  type BatchedFrame,
  batchable,
  batchedBytes,
  MAX_BATCH_CONTENT,
  openBatch,
  sealBatch,
} from "./batch.ts";
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
  TAG_BYTES,
} from "./frame.ts";
export * from "./handshake.ts";
export * from "./messages.ts";
export { DataCheck, type LinkKeys, OpeningKey, SealingKey } from "./seal.ts";
export * from "./sync-messages.ts";
export {
  TABLE_READ_BUDGET,
  TABLE_WRITE_BUDGET,
  type TableEntry,
  TableReadReq,
  type TableReadRequest,
  TableReadRes,
  type TableReadResult,
  TableWriteReq,
  TableWriteRes,
  tableEntryBytes,
  tableRecordBytes,
} from "./tables.ts";
export type { ListPage, NodeStat, ObjectKind, PutResult, ReplicaFailure } from "./types.ts";
