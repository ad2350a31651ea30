export {
  type FlagValues,
  type GatewayConfig,
  loadGatewayConfig,
  loadNodeConfig,
  type NodeConfig,
  type Sources,
} from "./load.ts";
export type { GatewaySettings, NodeSettings, RegistryConfig } from "./schema.ts";
export { SETTINGS, type Setting, settingsFor } from "./settings.ts";
export { formatHostPort, type HostPort, parseBytes, parseHostPort } from "./units.ts";
