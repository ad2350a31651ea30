import { readFileSync } from "node:fs";
import type { z } from "zod";
import { DfsError } from "../errors.ts";
import { type ApiKey, fullKeys, isLoopback, readKeysFile } from "./keys.ts";
import {
  ClientSchema,
  type ClientSettings,
  ClusterSchema,
  FileSchema,
  GatewaySchema,
  type GatewaySettings,
  NodeSchema,
  type NodeSettings,
  type RegistryConfig,
  RegistrySchema,
  S3Schema,
  type S3Settings,
} from "./schema.ts";
import { clientSettings, SETTINGS, type Setting, settingsFor } from "./settings.ts";
import { formatHostPort, type HostPort, parseHostPort } from "./units.ts";

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

export interface Sources {
  /** Path of config.json; also taken from DFS_CONFIG. Missing means none. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: FlagValues;
}

/**
 * Where this process's trust comes from, as configured; `src/credentials` turns it into an identity
 * and a trust anchor. Absent when no authority is configured.
 */
export interface TrustConfig {
  /** The authority's raw Ed25519 public key; absent when only `authoritySeed` was given. */
  readonly authorityPublicKey: Buffer | undefined;
  /** The authority's private seed (development and tests): the process issues its own credential. */
  readonly authoritySeed: Buffer | undefined;
  /** The text of this process's identity file. */
  readonly identityText: string | undefined;
}

export interface NodeConfig {
  readonly node: NodeSettings & { readonly listenAddr: HostPort; readonly advertiseAddr: HostPort };
  /** Absent when neither a Redis URL nor Sentinels are configured: the node runs unregistered. */
  readonly registry: RegistryConfig | undefined;
  readonly secret: Buffer;
  readonly trust: TrustConfig | undefined;
}

export interface GatewayConfig {
  readonly gateway: GatewaySettings & {
    readonly listenAddr: HostPort;
    /**
     * The keys at startup: apiKeys (every permission) then the keys file's. Empty and `apiKeysFile`
     * unset means no key is asked for (loopback or `anonymous` only).
     */
    readonly keys: readonly ApiKey[];
  };
  /** The S3 listener's settings; `listenAddr` set when it is to run. */
  readonly s3: S3Settings & { readonly listenAddr: HostPort | undefined };
  readonly registry: RegistryConfig;
  readonly secret: Buffer;
  /** 32 bytes. Stays in the gateway's memory; never logged, never sent. */
  readonly key: Buffer;
  readonly trust: TrustConfig | undefined;
}

type Tree = Record<string, Record<string, unknown>>;

function configError(message: string, cause?: unknown): DfsError {
  return new DfsError("DFS_ERR_CONFIG", message, cause === undefined ? {} : { cause });
}

function readFileTree(path: string | undefined): Tree {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw configError(`cannot read config file ${path}: ${(err as Error).message}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw configError(`config file ${path} is not valid JSON: ${(err as Error).message}`, err);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) throw configError(`config file ${path}: ${describeIssues(parsed.error)}`);
  // Keep the raw (un-defaulted) values so env and flags can override them before validation.
  return json as Tree;
}

function convert(setting: Setting, raw: string | boolean, origin: string): unknown {
  switch (setting.kind) {
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw configError(`${origin}: expected true or false, got "${raw}"`);
    case "int": {
      const n = Number(raw);
      if (typeof raw === "boolean" || !Number.isSafeInteger(n)) {
        throw configError(`${origin}: expected a whole number, got "${String(raw)}"`);
      }
      return n;
    }
    case "list":
      return String(raw)
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== "");
    case "string":
      return String(raw);
  }
}

function overlay(tree: Tree, settings: readonly Setting[], sources: Sources): Tree {
  const out: Tree = {};
  for (const [k, v] of Object.entries(tree)) out[k] = { ...v };
  const env = sources.env ?? {};
  for (const setting of settings) {
    const [sec, key] = setting.path;
    const fromEnv = env[setting.env];
    const fromFlag = sources.flags?.[setting.flag];
    out[sec] ??= {};
    if (fromEnv !== undefined && fromEnv !== "") out[sec][key] = convert(setting, fromEnv, setting.env);
    if (fromFlag !== undefined) out[sec][key] = convert(setting, fromFlag, `--${setting.flag}`);
  }
  return out;
}

export function describeIssues(error: z.ZodError, prefix = ""): string {
  return error.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter((x) => x !== "").join(".");
      return `${path || "(root)"}: ${i.message}`;
    })
    .join("; ");
}

function parseSection<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw configError(describeIssues(parsed.error, name));
  return parsed.data;
}

function readSecretFile(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw configError(`${field}: cannot read ${path}: ${(err as Error).message}`, err);
  }
}

function resolveSecret(cluster: z.output<typeof ClusterSchema>): Buffer {
  const value =
    cluster.secret ?? (cluster.secretFile ? readSecretFile(cluster.secretFile, "cluster.secretFile") : "");
  if (value.length < 16) {
    throw configError(
      "cluster.secret: a cluster secret of at least 16 characters is required (DFS_CLUSTER_SECRET or --secret-file)",
    );
  }
  return Buffer.from(value, "utf8");
}

function resolveKey(cluster: z.output<typeof ClusterSchema>): Buffer {
  const value =
    cluster.key ?? (cluster.keyFile ? readSecretFile(cluster.keyFile, "cluster.keyFile") : undefined);
  if (value === undefined) {
    throw configError("cluster.key: the cluster key is required (DFS_CLUSTER_KEY or --key-file)");
  }
  if (!/^[0-9a-fA-F]{64}$/.test(value))
    throw configError("cluster.key: expected 64 hex characters (32 bytes)");
  return Buffer.from(value, "hex");
}

function hexValue(value: string | undefined, file: string | undefined, field: string): Buffer | undefined {
  const text = value ?? (file ? readSecretFile(file, `${field}File`) : undefined);
  if (text === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw configError(`${field}: expected 64 hex characters (32 bytes)`);
  return Buffer.from(text, "hex");
}

function resolveTrust(cluster: z.output<typeof ClusterSchema>): TrustConfig | undefined {
  const authorityPublicKey = hexValue(
    cluster.authorityPublicKey,
    cluster.authorityPublicKeyFile,
    "cluster.authorityPublicKey",
  );
  const authoritySeed = hexValue(cluster.authorityKey, cluster.authorityKeyFile, "cluster.authorityKey");
  const identityText = cluster.identityFile
    ? readSecretFile(cluster.identityFile, "cluster.identityFile")
    : undefined;
  if (authorityPublicKey === undefined && authoritySeed === undefined) {
    if (identityText !== undefined) {
      throw configError("cluster.authorityPublicKey: required with an identity file (the trust anchor)");
    }
    return undefined;
  }
  return Object.freeze({ authorityPublicKey, authoritySeed, identityText });
}

function readMaterial(path: string | undefined, field: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw configError(`${field}: cannot read ${path}: ${(err as Error).message}`, err);
  }
}

function resolveRegistry(tree: Tree): RegistryConfig | undefined {
  const registry = parseSection(RegistrySchema, tree.redis, "redis");
  if (registry.url === undefined && registry.sentinelAddrs.length === 0) return undefined;
  const password =
    registry.password ??
    (registry.passwordFile ? readSecretFile(registry.passwordFile, "redis.passwordFile") : undefined);
  const sentinelPassword =
    registry.sentinelPassword ??
    (registry.sentinelPasswordFile
      ? readSecretFile(registry.sentinelPasswordFile, "redis.sentinelPasswordFile")
      : undefined);
  const tls = registry.tls || registry.url?.startsWith("rediss://") === true;
  const tlsMaterial = tls
    ? Object.freeze({
        ca: readMaterial(registry.tlsCaFile, "redis.tlsCaFile"),
        cert: readMaterial(registry.tlsCertFile, "redis.tlsCertFile"),
        key: readMaterial(registry.tlsKeyFile, "redis.tlsKeyFile"),
      })
    : undefined;
  return Object.freeze({ ...registry, password, sentinelPassword, tls, tlsMaterial });
}

function sourceTree(section: "node" | "gateway", sources: Sources): Tree {
  const file = sources.file ?? sources.env?.DFS_CONFIG;
  return overlay(readFileTree(file), settingsFor(section), sources);
}

export function loadNodeConfig(sources: Sources): NodeConfig {
  const tree = sourceTree("node", sources);
  if (tree.node?.dataDir === undefined) throw configError("node.dataDir: required (--data DIR or DFS_DATA)");
  const node = parseSection(NodeSchema, tree.node, "node");
  const listenAddr = parseHostPort(node.listen)!;
  const advertiseAddr = node.advertise ? parseHostPort(node.advertise)! : listenAddr;
  const cluster = parseSection(ClusterSchema, tree.cluster, "cluster");
  return Object.freeze({
    node: Object.freeze({ ...node, listenAddr, advertiseAddr }),
    registry: resolveRegistry(tree),
    secret: resolveSecret(cluster),
    trust: resolveTrust(cluster),
  });
}

export function loadGatewayConfig(sources: Sources): GatewayConfig {
  const tree = sourceTree("gateway", sources);
  const gateway = parseSection(GatewaySchema, tree.gateway, "gateway");
  const cluster = parseSection(ClusterSchema, tree.cluster, "cluster");
  const registry = resolveRegistry(tree);
  if (registry === undefined) {
    throw configError(
      "redis: a registry is required (--sentinels HOST:PORT,... --master-name NAME, or --redis URL)",
    );
  }
  const listenAddr = parseHostPort(gateway.listen)!;
  const s3 = parseSection(S3Schema, tree.s3 ?? {}, "s3");
  const s3Addr = s3.listen === undefined ? undefined : parseHostPort(s3.listen)!;
  const keys = resolveKeys(gateway, listenAddr);
  if (s3Addr !== undefined) resolveKeys(gateway, s3Addr, "s3.listen");
  return Object.freeze({
    gateway: Object.freeze({ ...gateway, listenAddr, keys }),
    s3: Object.freeze({ ...s3, listenAddr: s3Addr }),
    registry,
    secret: resolveSecret(cluster),
    key: resolveKey(cluster),
    trust: resolveTrust(cluster),
  });
}

/**
 * The gateway's keys, and the fail-closed rule: a gateway others can reach needs keys, unless it
 * is told explicitly (`anonymous`) to let anyone read, write and delete.
 */
function resolveKeys(
  gateway: GatewaySettings,
  listenAddr: HostPort,
  setting = "gateway.listen",
): readonly ApiKey[] {
  const keys = [
    ...fullKeys(gateway.apiKeys),
    ...(gateway.apiKeysFile === undefined ? [] : readKeysFile(gateway.apiKeysFile)),
  ];
  const secrets = new Set<string>();
  for (const key of keys) {
    if (secrets.has(key.secret)) throw configError(`gateway.apiKeys: key "${key.name}" is listed twice`);
    secrets.add(key.secret);
  }
  const keyed = gateway.apiKeys.length > 0 || gateway.apiKeysFile !== undefined;
  if (keyed && gateway.anonymous) {
    throw configError("gateway.anonymous: set either API keys or --anonymous, not both");
  }
  if (!keyed && !gateway.anonymous && !isLoopback(listenAddr.host)) {
    throw configError(
      `${setting}: ${formatHostPort(listenAddr)} is reachable from other machines, and no API key is set: ` +
        "give keys (--api-keys-file FILE, DFS_API_KEYS_FILE, --api-keys) or, to let anyone read, write " +
        "and delete every file, --anonymous",
    );
  }
  return Object.freeze(keys);
}

/** The registry settings alone (`dfs nodes`): the `redis` section of config.json, env and flags. */
export function loadRegistryConfig(sources: Sources): RegistryConfig {
  const file = sources.file ?? sources.env?.DFS_CONFIG;
  const redisSettings = SETTINGS.filter((x) => x.path[0] === "redis");
  const registry = resolveRegistry(overlay(readFileTree(file), redisSettings, sources));
  if (registry === undefined) {
    throw configError(
      "redis: a registry is required (--sentinels HOST:PORT,... --master-name NAME, or --redis URL)",
    );
  }
  return registry;
}

/** The cluster authority settings that let a process check others (`dfs nodes`). */
export const AUTHORITY_SETTINGS: readonly Setting[] = SETTINGS.filter(
  (x) =>
    x.path[0] === "cluster" &&
    ["authorityPublicKey", "authorityPublicKeyFile", "authorityKey", "authorityKeyFile"].includes(x.path[1]),
);

/** Where the trust anchor comes from, for a process that checks others under no identity of its own. */
export function loadTrustConfig(sources: Sources): TrustConfig | undefined {
  const file = sources.file ?? sources.env?.DFS_CONFIG;
  const tree = overlay(readFileTree(file), AUTHORITY_SETTINGS, sources);
  return resolveTrust(parseSection(ClusterSchema, tree.cluster, "cluster"));
}

/** Settings of the client commands: the gateway's URL and an optional API key. */
export function loadClientConfig(sources: Sources): ClientSettings {
  const file = sources.file ?? sources.env?.DFS_CONFIG;
  const tree = overlay(readFileTree(file), clientSettings(), sources);
  return Object.freeze(parseSection(ClientSchema, tree.client, "client"));
}
