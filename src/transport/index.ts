export type * from "./api.ts";
export { NodeClient, type NodeClientOptions } from "./client.ts";
export type { RequestHandlers } from "./handlers.ts";
export { pieces } from "./pieces.ts";
export { ProtocolServer, type ProtocolServerOptions } from "./server.ts";
export { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";
