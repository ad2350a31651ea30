import type { RegistryConfig } from "../config/index.ts";
import type { Identity, TrustAnchor } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { withDeadline } from "./deadline.ts";
import { chooseIncarnation, Heartbeat } from "./heartbeat.ts";
import { decodeRecord } from "./keys.ts";
import { registryLogger } from "./log.ts";
import { Reaper } from "./reaper.ts";
import { RecordCheck } from "./record-signature.ts";
import { createRedis } from "./redis.ts";
import type { MembershipView, NodeMembership, NodeRecord, NodeRecordInput } from "./types.ts";
import { RegistryView } from "./view.ts";

export interface NodeMembershipOptions {
  logger: Logger;
  /** Whether a peer answers at `addr` (the node dials it over the node protocol). */
  probe: (addr: string) => Promise<boolean>;
  /** How often to look for dead peers; default max(heartbeatTtlMs, 5 s). */
  reapIntervalMs?: number;
  /** Give up starting (DFS_ERR_REGISTRY) when Redis has not answered by then; default 10 s. */
  startTimeoutMs?: number;
  /** Called after each acknowledged heartbeat (metrics, tests). */
  onHeartbeat?: (record: NodeRecord) => void;
  /** Signs every record the node writes (role node, id = the node's id). */
  identity?: Identity;
  /** Checks every record the node reads; without one records are taken unchecked. */
  anchor?: TrustAnchor;
}

/** Same rules as everywhere else in the key layout: no whitespace, so ids survive pub/sub payloads. */
const ID = /^[^\s]{1,256}$/;

/**
 * Joins the registry as a node: registers at once (resolves when Redis acknowledged it), heartbeats
 * every `heartbeatIntervalMs` with a `heartbeatTtlMs` key, keeps a membership view, and removes dead
 * peers (see Reaper). A beat is also sent as soon as a lost connection comes back, so an emptied
 * Redis gets the node back within a round trip.
 */
export async function startNodeMembership(
  config: RegistryConfig,
  self: () => NodeRecordInput,
  options: NodeMembershipOptions,
): Promise<NodeMembership> {
  const first = self();
  if (!ID.test(first.id)) throw new DfsError("DFS_ERR_CONFIG", `registry: invalid node id "${first.id}"`);
  if (options.identity && options.identity.credential.id !== first.id) {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      `registry: the credential is node "${options.identity.credential.id}"'s, this node is "${first.id}"`,
    );
  }
  const logger = registryLogger(options.logger, { nodeId: first.id });
  const check = recordCheck(config, options.anchor, logger);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const deadline = performance.now() + startTimeoutMs;
  const left = () => Math.max(1, Math.round(deadline - performance.now()));
  const redis = createRedis(config, logger);
  let view: MembershipView | undefined;
  try {
    const previous = decodeRecord(
      await withDeadline(redis.client.get(redis.keys.node(first.id)), left(), "registry: read own entry"),
    );
    const incarnation = chooseIncarnation(previous?.incarnation, Date.now());
    const heartbeat = new Heartbeat(redis, config, self, first, incarnation, logger, {
      onBeat: options.onHeartbeat,
      identity: options.identity,
    });
    await withDeadline(heartbeat.beat(true), left(), "registry: register");
    view = await RegistryView.open(redis, config, {
      logger,
      ownsRedis: false,
      initialSyncTimeoutMs: left(),
      check,
    });
    heartbeat.start();
    const onReady = () => heartbeat.tick();
    redis.client.on("ready", onReady);
    const reaper = new Reaper(redis, view, {
      selfId: first.id,
      intervalMs: options.reapIntervalMs ?? Math.max(config.heartbeatTtlMs, 5000),
      probe: options.probe,
      logger,
      decode: check.decode,
    });
    reaper.start();
    logger.info({ incarnation, addr: first.addr }, "registry: registered");
    const joined = view;
    let closed: Promise<void> | undefined;
    return {
      view: joined,
      incarnation,
      close() {
        closed ??= (async () => {
          reaper.stop();
          redis.client.off("ready", onReady);
          try {
            await withDeadline(heartbeat.deregister(), 2000, "registry: deregister");
            logger.info("registry: deregistered");
          } catch (err) {
            heartbeat.stop();
            logger.warn(
              { err: (err as Error).message },
              "registry: could not deregister; the entry will expire",
            );
          }
          await joined.close();
          await redis.close();
        })();
        return closed;
      },
    };
  } catch (err) {
    await view?.close();
    const last = redis.lastError();
    await redis.close();
    throw err instanceof DfsError && err.code === "DFS_ERR_REGISTRY"
      ? err
      : new DfsError(
          "DFS_ERR_REGISTRY",
          `registry: could not join: ${(err as Error).message}` +
            (last ? ` (last error: ${last.message})` : ""),
          { cause: err },
        );
  }
}

export interface ViewStartOptions {
  logger: Logger;
  /** Checks every record read (signature, credential, bounds); without one records are taken unchecked. */
  anchor?: TrustAnchor;
  /** Give up (DFS_ERR_REGISTRY) when the first sync has not succeeded by then; default 10 s. */
  startTimeoutMs?: number;
}

/** A read-only membership view for gateways and the CLI, with its own connections. */
export async function startMembershipView(
  config: RegistryConfig,
  options: ViewStartOptions,
): Promise<MembershipView> {
  const logger = registryLogger(options.logger);
  const redis = createRedis(config, logger);
  return RegistryView.open(redis, config, {
    logger,
    ownsRedis: true,
    initialSyncTimeoutMs: options.startTimeoutMs ?? 10_000,
    check: recordCheck(config, options.anchor, logger),
  });
}

function recordCheck(config: RegistryConfig, anchor: TrustAnchor | undefined, logger: Logger) {
  if (anchor === undefined) {
    logger.warn("registry: no cluster authority configured; node records are not verified");
  }
  const check = new RecordCheck(anchor, { maxHeartbeatTtlMs: config.maxHeartbeatTtlMs }, logger);
  return {
    decode: check.decode.bind(check),
    get rejected() {
      return check.rejected;
    },
  };
}
