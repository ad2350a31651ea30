/**
 * Every setting that can come from the environment or a flag, in one table. The CLI builds its
 * flag parser from it and the loader its env reader, so the three sources cannot drift apart.
 * `path` is where the value lands in config.json's shape.
 */
export type SettingKind = "string" | "list" | "int" | "bool";

export interface Setting {
  path: readonly [section: string, key: string];
  env: string;
  flag: string;
  kind: SettingKind;
  help: string;
}

const s = (path: Setting["path"], env: string, flag: string, kind: SettingKind, help: string): Setting => ({
  path,
  env,
  flag,
  kind,
  help,
});

export const SETTINGS: readonly Setting[] = [
  s(["redis", "url"], "DFS_REDIS_URL", "redis", "string", "plain Redis URL (development only)"),
  s(["redis", "sentinelAddrs"], "DFS_SENTINELS", "sentinels", "list", "Sentinel addresses, host:port,..."),
  s(["redis", "masterName"], "DFS_MASTER_NAME", "master-name", "string", "Sentinel master name"),
  s(["redis", "prefix"], "DFS_REDIS_PREFIX", "redis-prefix", "string", "prefix of every registry key"),
  s(["redis", "heartbeatIntervalMs"], "DFS_HEARTBEAT_MS", "heartbeat-ms", "int", "heartbeat interval"),
  s(["redis", "heartbeatTtlMs"], "DFS_HEARTBEAT_TTL_MS", "heartbeat-ttl-ms", "int", "heartbeat key TTL"),
  s(
    ["redis", "maxHeartbeatTtlMs"],
    "DFS_MAX_HEARTBEAT_TTL_MS",
    "max-heartbeat-ttl-ms",
    "int",
    "longest heartbeat TTL a record may claim",
  ),
  s(
    ["redis", "maxMembers"],
    "DFS_REGISTRY_MAX_MEMBERS",
    "registry-max-members",
    "int",
    "most nodes a view keeps",
  ),
  s(["redis", "username"], "DFS_REDIS_USERNAME", "redis-username", "string", "Redis ACL user"),
  s(
    ["redis", "password"],
    "DFS_REDIS_PASSWORD",
    "redis-password",
    "string",
    "Redis password (prefer a file)",
  ),
  s(
    ["redis", "passwordFile"],
    "DFS_REDIS_PASSWORD_FILE",
    "redis-password-file",
    "string",
    "file holding the Redis password",
  ),
  s(
    ["redis", "sentinelUsername"],
    "DFS_SENTINEL_USERNAME",
    "sentinel-username",
    "string",
    "Sentinel ACL user",
  ),
  s(
    ["redis", "sentinelPassword"],
    "DFS_SENTINEL_PASSWORD",
    "sentinel-password",
    "string",
    "Sentinel password (prefer a file)",
  ),
  s(
    ["redis", "sentinelPasswordFile"],
    "DFS_SENTINEL_PASSWORD_FILE",
    "sentinel-password-file",
    "string",
    "file holding the Sentinel password",
  ),
  s(["redis", "tls"], "DFS_REDIS_TLS", "redis-tls", "bool", "TLS to Redis and the Sentinels"),
  s(
    ["redis", "tlsCaFile"],
    "DFS_REDIS_TLS_CA_FILE",
    "redis-tls-ca-file",
    "string",
    "CA bundle for Redis TLS",
  ),
  s(
    ["redis", "tlsCertFile"],
    "DFS_REDIS_TLS_CERT_FILE",
    "redis-tls-cert-file",
    "string",
    "client certificate for Redis TLS",
  ),
  s(["redis", "tlsKeyFile"], "DFS_REDIS_TLS_KEY_FILE", "redis-tls-key-file", "string", "its private key"),
  s(["cluster", "secret"], "DFS_CLUSTER_SECRET", "secret", "string", "node-protocol secret (prefer a file)"),
  s(["cluster", "secretFile"], "DFS_CLUSTER_SECRET_FILE", "secret-file", "string", "file holding the secret"),
  s(["cluster", "key"], "DFS_CLUSTER_KEY", "key", "string", "cluster key, 64 hex chars (prefer a file)"),
  s(["cluster", "keyFile"], "DFS_CLUSTER_KEY_FILE", "key-file", "string", "file holding the cluster key"),
  s(
    ["cluster", "authorityPublicKey"],
    "DFS_AUTHORITY_PUBLIC_KEY",
    "authority-public-key",
    "string",
    "the cluster authority's public key, 64 hex chars",
  ),
  s(
    ["cluster", "authorityPublicKeyFile"],
    "DFS_AUTHORITY_PUBLIC_KEY_FILE",
    "authority-public-key-file",
    "string",
    "file holding the authority's public key",
  ),
  s(
    ["cluster", "authorityKey"],
    "DFS_AUTHORITY_KEY",
    "authority-key",
    "string",
    "the authority's private key: self-issued credentials (development only)",
  ),
  s(
    ["cluster", "authorityKeyFile"],
    "DFS_AUTHORITY_KEY_FILE",
    "authority-key-file",
    "string",
    "file holding the authority's private key (development only)",
  ),
  s(["cluster", "identityFile"], "DFS_IDENTITY_FILE", "identity-file", "string", "this process's credential"),
  s(["node", "listen"], "DFS_NODE_LISTEN", "listen", "string", "host:port to listen on"),
  s(["node", "advertise"], "DFS_NODE_ADVERTISE", "advertise", "string", "host:port peers dial"),
  s(["node", "dataDir"], "DFS_DATA", "data", "string", "data directory"),
  s(["node", "zone"], "DFS_ZONE", "zone", "string", "failure zone"),
  s(["node", "capacityBytes"], "DFS_CAPACITY", "capacity", "string", "bytes offered (0 = disk size)"),
  s(["node", "reserveBytes"], "DFS_RESERVE", "reserve", "string", "free space kept in reserve"),
  s(["node", "maxObjectBytes"], "DFS_MAX_OBJECT", "max-object", "string", "largest object accepted"),
  s(["node", "cacheBytes"], "DFS_NODE_CACHE", "cache", "string", "memory for recent small objects"),
  s(["node", "fsync"], "DFS_FSYNC", "fsync", "bool", "fsync every write (default true)"),
  s(["node", "packs"], "DFS_NODE_PACKS", "packs", "bool", "small objects in pack files (default true)"),
  s(
    ["node", "frameTimeoutMs"],
    "DFS_FRAME_TIMEOUT_MS",
    "frame-timeout-ms",
    "int",
    "close peers stalled mid-frame",
  ),
  s(["node", "putStallMs"], "DFS_PUT_STALL_MS", "put-stall-ms", "int", "fail a PUT whose body stalls"),
  s(
    ["node", "handshakeTimeoutMs"],
    "DFS_HANDSHAKE_TIMEOUT_MS",
    "handshake-timeout-ms",
    "int",
    "close peers not authenticated by then",
  ),
  s(["node", "replicas"], "DFS_REPLICAS", "replicas", "int", "replication factor R repair keeps"),
  s(
    ["node", "writeQuorum"],
    "DFS_WRITE_QUORUM",
    "write-quorum",
    "int",
    "owners W before a table write counts",
  ),
  s(["node", "repairGraceMs"], "DFS_REPAIR_GRACE_MS", "repair-grace-ms", "int", "absence before repair"),
  s(
    ["node", "repairIntervalMs"],
    "DFS_REPAIR_INTERVAL_MS",
    "repair-interval-ms",
    "int",
    "repair round period",
  ),
  s(["node", "scrubIntervalMs"], "DFS_SCRUB_INTERVAL_MS", "scrub-interval-ms", "int", "scrub pass period"),
  s(
    ["node", "repairBytesPerSec"],
    "DFS_REPAIR_RATE",
    "repair-rate",
    "string",
    "repair+scrub+compaction bytes/s",
  ),
  s(["node", "gcGraceMs"], "DFS_GC_GRACE_MS", "gc-grace-ms", "int", "unreferenced age before GC"),
  s(
    ["node", "tombstoneGraceMs"],
    "DFS_TOMBSTONE_GRACE_MS",
    "tombstone-grace-ms",
    "int",
    "deleted files' tombstones kept this long",
  ),
  s(["gateway", "listen"], "DFS_GATEWAY_LISTEN", "listen", "string", "host:port to listen on"),
  s(["gateway", "chunkBytes"], "DFS_CHUNK_SIZE", "chunk-size", "string", "chunk size"),
  s(["gateway", "replicas"], "DFS_REPLICAS", "replicas", "int", "replication factor R"),
  s(["gateway", "writeQuorum"], "DFS_WRITE_QUORUM", "write-quorum", "int", "copies W before a write counts"),
  s(["gateway", "maxUploadBytes"], "DFS_MAX_UPLOAD", "max-upload", "string", "largest upload accepted"),
  s(
    ["gateway", "uploadConcurrency"],
    "DFS_UPLOAD_CONCURRENCY",
    "upload-concurrency",
    "int",
    "chunks in flight",
  ),
  s(
    ["gateway", "inlineMaxBytes"],
    "DFS_INLINE_MAX",
    "inline-max",
    "string",
    "files up to this size go inside their manifest (default 16 KiB; 0: never)",
  ),
  s(
    ["gateway", "uploadLeaseMs"],
    "DFS_UPLOAD_LEASE_MS",
    "upload-lease-ms",
    "int",
    "an upload's hold on its chunks, renewed at a third of it (default 1 h)",
  ),
  s(
    ["gateway", "multipartMaxAgeMs"],
    "DFS_MULTIPART_MAX_AGE_MS",
    "multipart-max-age-ms",
    "int",
    "unfinished multipart uploads are removed after this (default 7 days)",
  ),
  s(
    ["gateway", "multipartSweepMs"],
    "DFS_MULTIPART_SWEEP_MS",
    "multipart-sweep-ms",
    "int",
    "how often old multipart uploads are swept (default 1 h; 0: never)",
  ),
  s(
    ["gateway", "apiKeys"],
    "DFS_API_KEYS",
    "api-keys",
    "list",
    "Bearer keys with every permission, comma separated",
  ),
  s(
    ["gateway", "apiKeysFile"],
    "DFS_API_KEYS_FILE",
    "api-keys-file",
    "string",
    "file of name:secret:perms lines, re-read when it changes",
  ),
  s(["gateway", "apiKeysPollMs"], "DFS_API_KEYS_POLL_MS", "api-keys-poll-ms", "int", "keys file stat period"),
  s(["gateway", "protectReads"], "DFS_PROTECT_READS", "protect-reads", "bool", "require a key for reads too"),
  s(
    ["gateway", "anonymous"],
    "DFS_ANONYMOUS",
    "anonymous",
    "bool",
    "serve without keys on a non-loopback address",
  ),
  s(
    ["gateway", "headersTimeoutMs"],
    "DFS_HEADERS_TIMEOUT_MS",
    "headers-timeout-ms",
    "int",
    "time for headers",
  ),
  s(
    ["gateway", "bodyIdleTimeoutMs"],
    "DFS_BODY_IDLE_TIMEOUT_MS",
    "body-idle-timeout-ms",
    "int",
    "cut a request body that stalls",
  ),
  s(
    ["gateway", "writeTimeoutMs"],
    "DFS_WRITE_TIMEOUT_MS",
    "write-timeout-ms",
    "int",
    "cut a download its client stops reading",
  ),
  s(
    ["gateway", "keepAliveTimeoutMs"],
    "DFS_KEEP_ALIVE_TIMEOUT_MS",
    "keep-alive-timeout-ms",
    "int",
    "close idle keep-alive connections",
  ),
  s(
    ["gateway", "maxConnections"],
    "DFS_MAX_CONNECTIONS",
    "max-connections",
    "int",
    "connections served at once",
  ),
  s(["gateway", "console"], "DFS_CONSOLE", "console", "bool", "serve the web console at /ui/ (default true)"),
  s(["gateway", "maxTransfers"], "DFS_MAX_TRANSFERS", "max-transfers", "int", "uploads+downloads in flight"),
  s(["s3", "listen"], "DFS_S3_LISTEN", "s3-listen", "string", "host:port of the S3 API (off when unset)"),
  s(["s3", "region"], "DFS_S3_REGION", "s3-region", "string", "region S3 clients sign for"),
  s(["client", "gateway"], "DFS_GATEWAY", "gateway", "string", "gateway URL for client commands"),
  s(["client", "apiKey"], "DFS_API_KEY", "api-key", "string", "API key (Bearer) for client commands"),
];

/** The settings of the client commands (put, get, stat, rm, status). */
export function clientSettings(): Setting[] {
  return SETTINGS.filter((x) => x.path[0] === "client");
}

/** The settings a command accepts: its own section plus the shared ones. */
export function settingsFor(section: "node" | "gateway"): Setting[] {
  return SETTINGS.filter(
    (x) =>
      x.path[0] === section ||
      x.path[0] === "redis" ||
      x.path[0] === "cluster" ||
      (section === "gateway" && x.path[0] === "s3"),
  );
}
