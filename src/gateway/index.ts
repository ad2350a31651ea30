/** The HTTP gateway: build the app (tests inject into it) or run it (the `dfs gateway` command). */
export { buildGateway } from "./app.ts";
export type { GatewayDeps, GatewayView } from "./context.ts";
export { HTTP_STATUS, type Problem } from "./errors.ts";
export {
  type RunningGateway,
  runGateway,
  type SideListener,
  type SideStarter,
  startGateway,
} from "./main.ts";
