import { z } from "zod";
import { parseBytes, parseHostPort } from "./units.ts";

/** A size in bytes: a number, or a string such as "1MiB" or "10 GB". */
const bytes = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const n = parseBytes(v);
  if (n === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a size such as 1048576 or "1MiB", got "${v}"` });
    return z.NEVER;
  }
  return n;
});

const hostPort = z.string().refine((v) => parseHostPort(v) !== undefined, {
  message: 'expected "host:port"',
});

const ms = z.number().int().positive();

/** Redis membership registry: redis.masterName and redis.sentinelAddrs name a Sentinel-watched master. */
export const RegistrySchema = z
  .object({
    url: z
      .string()
      .regex(/^rediss?:\/\//, { message: 'expected a URL such as "redis://127.0.0.1:6379"' })
      .optional(),
    sentinelAddrs: z.array(hostPort).default([]),
    masterName: z.string().min(1).default("mymaster"),
    prefix: z.string().default("dfs:"),
    heartbeatIntervalMs: ms.default(1000),
    /** Must outlast a heartbeat interval plus the worst Sentinel failover (~4 s measured) plus margin. */
    heartbeatTtlMs: ms.default(10_000),
    /** Readers refuse records whose heartbeat TTL is longer, and do not count a key without a TTL as live. */
    maxHeartbeatTtlMs: ms.default(60_000),
    /** Readers keep at most this many nodes (placement supports 65,536); records past it are ignored. */
    maxMembers: z.number().int().min(1).max(65_536).default(4096),
    resyncIntervalMs: ms.default(2000),
    /** After a reconnect, nobody is evicted for this long: keys may still be catching up. */
    reconnectGraceMs: ms.default(5000),
    /** Redis ACL user and password (AUTH); each secret from a value or a file. */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** Sentinels' own ACL user and password (`requirepass` / ACL on the Sentinels). */
    sentinelUsername: z.string().min(1).optional(),
    sentinelPassword: z.string().min(1).optional(),
    sentinelPasswordFile: z.string().min(1).optional(),
    /** TLS to Redis and the Sentinels: a CA to trust (else the system's), optional client cert/key. */
    tls: z.boolean().default(false),
    tlsCaFile: z.string().min(1).optional(),
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => r.maxHeartbeatTtlMs >= r.heartbeatTtlMs, {
    message: "maxHeartbeatTtlMs must be at least heartbeatTtlMs (readers would refuse every record)",
    path: ["maxHeartbeatTtlMs"],
  })
  .refine((r) => (r.tlsCertFile === undefined) === (r.tlsKeyFile === undefined), {
    message: "tlsCertFile and tlsKeyFile go together",
    path: ["tlsCertFile"],
  });

const hex32 = z.string().regex(/^[0-9a-fA-F]{64}$/, { message: "expected 64 hex characters (32 bytes)" });

/** Secrets: each from a value or a file. Values never appear in logs. */
export const ClusterSchema = z
  .object({
    /** Shared by nodes and gateways to authenticate node-protocol connections. */
    secret: z.string().min(16, { message: "must be at least 16 characters" }).optional(),
    secretFile: z.string().min(1).optional(),
    /** The cluster key (64 hex chars = 32 bytes): gateways only, never sent to nodes. */
    key: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, { message: "expected 64 hex characters (32 bytes)" })
      .optional(),
    keyFile: z.string().min(1).optional(),
    /**
     * The cluster authority's Ed25519 public key (64 hex chars): the one trust anchor every
     * process checks credentials against. Derived from `authorityKey` when that is given.
     */
    authorityPublicKey: hex32.optional(),
    authorityPublicKeyFile: z.string().min(1).optional(),
    /**
     * The authority's private seed (64 hex chars). A process holding it issues its own credential:
     * for development and tests only, since it can mint any role. In production give `identityFile`.
     */
    authorityKey: hex32.optional(),
    authorityKeyFile: z.string().min(1).optional(),
    /** This process's identity (credential and private key), made by `dfs credential issue`. */
    identityFile: z.string().min(1).optional(),
  })
  .strict();

export const NodeSchema = z
  .object({
    listen: hostPort.default("127.0.0.1:7100"),
    /** The address peers and gateways dial; defaults to `listen`. */
    advertise: hostPort.optional(),
    dataDir: z.string().min(1),
    zone: z.string().min(1).default("default"),
    /** Bytes this node offers; 0 means the size of its disk. */
    capacityBytes: bytes.default(0),
    /** Writes are refused once free disk space would fall below this. */
    reserveBytes: bytes.default(64 * 1024 * 1024),
    maxObjectBytes: bytes.default(64 * 1024 * 1024),
    /** Memory for the bodies of small objects (<= 64 KiB) stored or read lately; 0 turns it off. */
    cacheBytes: bytes.default(16 * 1024 * 1024),
    fsync: z.boolean().default(true),
    /** Bodies of at most 64 KiB go to append-only pack files, written in group-committed batches. */
    packs: z.boolean().default(true),
    /** A frame or handshake stalled part-way this long gets its connection closed. */
    frameTimeoutMs: ms.default(10_000),
    /**
     * A PUT whose body brings nothing for this long fails, and the space it reserved is released:
     * a stalled or vanished peer holds a reservation no longer.
     */
    putStallMs: ms.default(30_000),
    /** A connection not authenticated this long after it was accepted is closed, however it trickles. */
    handshakeTimeoutMs: ms.default(3000),
    /** Copies of every object the node's repair keeps (R); must match the gateways'. */
    replicas: z.number().int().min(1).max(16).default(3),
    /** Owners that must hold a table record this node writes before the write counts (W); as the gateways'. */
    writeQuorum: z.number().int().min(1).max(16).default(2),
    /** A node gone this long loses its share to the others; shorter absences (restarts) move nothing. */
    repairGraceMs: ms.default(30_000),
    /**
     * How often this node compares its digests with its peers' for missing, misplaced or older
     * copies; a membership change starts a round sooner.
     */
    repairIntervalMs: ms.default(60_000),
    /** How often a scrub pass re-hashes what this node holds. */
    scrubIntervalMs: ms.default(3_600_000),
    /** Bytes per second repair, scrub and pack compaction move together, so foreground traffic keeps the rest. */
    repairBytesPerSec: bytes.default(32 * 1024 * 1024),
    /** A chunk unreferenced for this long is collected (uploads in flight finish well within it). */
    gcGraceMs: ms.default(3_600_000),
    /**
     * A deleted file's tombstone is kept this long, then dropped once no node holds an older copy
     * of its manifest. A node away for longer must come back empty, or it could bring the file back.
     */
    tombstoneGraceMs: ms.default(10 * 24 * 3_600_000),
  })
  .strict()
  .refine((n) => n.writeQuorum <= n.replicas, {
    message: "writeQuorum must not exceed replicas",
    path: ["writeQuorum"],
  });

export const GatewaySchema = z
  .object({
    listen: hostPort.default("127.0.0.1:8080"),
    chunkBytes: bytes.default(1024 * 1024),
    replicas: z.number().int().min(1).max(16).default(3),
    writeQuorum: z.number().int().min(1).max(16).default(2),
    maxUploadBytes: bytes.default(64 * 1024 ** 3),
    uploadConcurrency: z.number().int().min(1).max(64).default(4),
    /** Files up to this size are stored inside their manifest (one object, not two); 0: never. */
    inlineMaxBytes: bytes
      .pipe(z.number().max(64 * 1024, { message: "at most 64KiB (a manifest carries it)" }))
      .default(16 * 1024),
    /**
     * How long an upload's hold on the chunks it wrote lasts before the upload renews it (at a
     * third of it): the nodes may collect a chunk only a GC grace after the last hold on it ended.
     */
    uploadLeaseMs: ms.default(3_600_000),
    /** A multipart upload not completed or aborted within this is removed with its parts by a sweep. */
    multipartMaxAgeMs: ms.default(7 * 24 * 3_600_000),
    /** How often a gateway sweeps old multipart uploads (every gateway may; 0: never). */
    multipartSweepMs: z.number().int().min(0).default(3_600_000),
    /** Keys with every permission (read, write, delete, admin). */
    apiKeys: z.array(z.string().min(16)).default([]),
    /** A file of keys with permissions, `name:secret:perms` per line (keys.ts), re-read when it changes. */
    apiKeysFile: z.string().min(1).optional(),
    /** How often the keys file is stat'ed, in case a change notification was missed. */
    apiKeysPollMs: ms.default(2000),
    protectReads: z.boolean().default(false),
    /** Serve without keys (every request may do everything) on a non-loopback address. */
    anonymous: z.boolean().default(false),
    /** A request's headers must arrive within this. */
    headersTimeoutMs: ms.default(15_000),
    /** A request body that brings under 16 KiB in this much time spent waiting for it is cut (408). */
    bodyIdleTimeoutMs: ms.default(30_000),
    /** A download whose client has not taken its next chunk in this long is cut and its buffers freed. */
    writeTimeoutMs: ms.default(60_000),
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: ms.default(65_000),
    /** Connections beyond this get a 503 (DFS_ERR_BUSY) and are closed. */
    maxConnections: z.number().int().min(1).default(1024),
    /** Uploads and downloads in flight beyond this get a 503 (DFS_ERR_BUSY); each holds a few chunks. */
    maxTransfers: z.number().int().min(1).default(16),
    /** The web console at /ui/ on this port (src/console/). */
    console: z.boolean().default(true),
  })
  .strict()
  .refine((g) => g.writeQuorum <= g.replicas, {
    message: "writeQuorum must not exceed replicas",
    path: ["writeQuorum"],
  });

/** The S3 listener (src/s3/): off unless `listen` is set. */
export const S3Schema = z
  .object({
    listen: hostPort.optional(),
    /** The region S3 clients sign for (their Credential scope must name it). */
    region: z
      .string()
      .regex(/^[a-z0-9-]{1,32}$/, { message: "expected a region name such as us-east-1" })
      .default("us-east-1"),
  })
  .strict();

export const ClientSchema = z
  .object({
    gateway: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "http://127.0.0.1:8080"' })
      .default("http://127.0.0.1:8080"),
    apiKey: z.string().min(1).optional(),
  })
  .strict();

/** The whole of config.json; every section optional, each command reads the ones it needs. */
export const FileSchema = z
  .object({
    redis: RegistrySchema.optional(),
    cluster: ClusterSchema.optional(),
    node: z.record(z.string(), z.unknown()).optional(),
    gateway: z.record(z.string(), z.unknown()).optional(),
    s3: z.record(z.string(), z.unknown()).optional(),
    dev: z.record(z.string(), z.unknown()).optional(),
    client: ClientSchema.optional(),
  })
  .strict();

/** TLS material for Redis and the Sentinels, read from the configured files. */
export interface RedisTlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/**
 * The registry's settings; `password` and `sentinelPassword` hold the secret whether it came as a
 * value or a file, and `tlsMaterial` the files' contents when `tls` is on.
 */
export type RegistryConfig = z.output<typeof RegistrySchema> & { readonly tlsMaterial?: RedisTlsMaterial };
export type NodeSettings = z.output<typeof NodeSchema>;
export type GatewaySettings = z.output<typeof GatewaySchema>;
export type S3Settings = z.output<typeof S3Schema>;
export type ClientSettings = z.output<typeof ClientSchema>;
export type ClusterSettings = z.output<typeof ClusterSchema>;
