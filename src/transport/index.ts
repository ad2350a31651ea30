export type * from "./api.ts";
export { BufferPool } from "./buffer-pool.ts";
export { NodeClient, type NodeClientOptions, type PutUpload, SMALL_PUT_MAX_BYTES } from "./client.ts";
export type { RequestHandlers } from "./handlers.ts";
export type { BodyConsumer, IncomingBody } from "./incoming-body.ts";
export { pieces } from "./pieces.ts";
export { ProtocolServer, type ProtocolServerOptions } from "./server.ts";
export type { LentPiece } from "./slabs.ts";
export { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";
