/** The HTTP gateway: build the app (tests inject into it) or run it (the `dfs gateway` command). */
export { buildGateway } from "./app.ts";
export { authorizeBucket } from "./bucket-access.ts";
export type { GatewayContext, GatewayDeps, GatewayView } from "./context.ts";
export { HTTP_STATUS, type Problem } from "./errors.ts";
export {
  type AppExtension,
  type RunningGateway,
  runGateway,
  type SideListener,
  type SideStarter,
  startGateway,
} from "./main.ts";
export type { SessionAuth } from "./principal.ts";
