export {
  type ApiKey,
  fullKeys,
  type Grant,
  isLoopback,
  PERMISSIONS,
  type Permission,
  parseKeysFile,
  readKeysFile,
} from "./keys.ts";
export { type KeysWatcher, watchKeysFile } from "./keys-watch.ts";
export {
  AUTHORITY_SETTINGS,
  type FlagValues,
  type GatewayConfig,
  loadClientConfig,
  loadGatewayConfig,
  loadNodeConfig,
  loadTrustConfig,
  type NodeConfig,
  type Sources,
  type TrustConfig,
} from "./load.ts";
export type { ClientSettings, GatewaySettings, NodeSettings, RegistryConfig } from "./schema.ts";
export { clientSettings, SETTINGS, type Setting, settingsFor } from "./settings.ts";
export { formatHostPort, type HostPort, parseBytes, parseHostPort } from "./units.ts";
