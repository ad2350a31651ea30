import { join as joinPath } from "node:path";
import type { NodeConfig } from "../config/index.ts";
import type { HealCounters } from "../formats/index.ts";
import type { Logger } from "../logger.ts";
import { type NodeMembership, startNodeMembership } from "../registry/index.ts";
import { Healer, REFS_MARKER } from "./heal/index.ts";
import { NODE_VERSION, nodeFeatures, StorageNode } from "./storage-node.ts";

/** The counters as the registry publishes them: a snapshot (the healer keeps counting). */
function published(c: HealCounters): HealCounters {
  return { ...c };
}

/**
 * Joins the registry, when one is configured: the node's entry, with free space and `heal()`'s
 * counters as of now, is re-asserted on every heartbeat.
 */
async function join(
  node: StorageNode,
  config: NodeConfig,
  logger: Logger,
  heal: () => HealCounters | undefined,
  refsBuilt: () => boolean,
): Promise<NodeMembership | undefined> {
  if (!config.registry) {
    logger.warn(
      "no registry configured (--sentinels or --redis): running unregistered (no healing; chain PUTs that name other nodes are refused)",
    );
    return undefined;
  }
  const initial = await node.store.stats();
  let free = initial.freeBytes;
  let capacity = initial.capacityBytes;
  const membership = await startNodeMembership(
    config.registry,
    () => {
      // Refresh for the next beat; the registry must not wait on the disk.
      void node.store.stats().then((s) => {
        free = s.freeBytes;
        capacity = s.capacityBytes;
      });
      return {
        id: node.nodeId,
        addr: node.advertise,
        zone: config.node.zone,
        capacityBytes: capacity,
        freeBytes: free,
        version: NODE_VERSION,
        startedAt: node.startedAt,
        heal: heal(),
        store: node.store.counters,
        features: nodeFeatures(refsBuilt()),
      };
    },
    {
      logger: logger.child({ component: "registry" }),
      identity: node.trust.identity,
      anchor: node.trust.anchor,
      probe: (addr) =>
        node.peers.ping(addr).then(
          () => true,
          () => false,
        ),
    },
  );
  node.useMembership(membership.view);
  logger.info({ incarnation: membership.incarnation }, "node registered");
  return membership;
}

/**
 * Runs a storage node until SIGTERM/SIGINT: listen, register, serve; then leave the registry at
 * once (so gateways stop choosing it), finish in-flight requests, close the store.
 */
export async function runNode(config: NodeConfig, logger: Logger): Promise<void> {
  const node = await StorageNode.start(config, logger);
  let membership: NodeMembership | undefined;
  // Assigned once healing starts (it needs the membership); beats before that carry no counters.
  let healer: Healer | undefined;
  try {
    membership = await join(
      node,
      config,
      logger,
      () => healer && published(healer.counters),
      () => healer?.refsBuilt ?? false,
    );
  } catch (err) {
    await node.close(0);
    throw err;
  }
  logger.info(
    { address: node.advertise, nodeId: node.nodeId, dataDir: config.node.dataDir, zone: config.node.zone },
    "node listening",
  );
  const n = config.node;
  await warnIfAwayTooLong(node, n.tombstoneGraceMs, logger);
  // Healing needs the membership: an unregistered node cannot know who owns what.
  healer = membership
    ? new Healer(
        {
          store: node.store,
          tables: node.tables,
          tableClient: node.tableClient,
          refsMarker: joinPath(config.node.dataDir, REFS_MARKER),
          alive: node.alive,
          nodes: node.peers,
          view: membership.view,
          self: node.advertise,
          selfId: node.nodeId,
          logger: logger.child({ component: "heal" }),
          budget: node.background,
          signatures: node.signatures,
          digests: node.digests,
        },
        {
          replicas: n.replicas,
          repairGraceMs: n.repairGraceMs,
          repairIntervalMs: n.repairIntervalMs,
          scrubIntervalMs: n.scrubIntervalMs,
          gcGraceMs: n.gcGraceMs,
          tombstoneGraceMs: n.tombstoneGraceMs,
        },
      )
    : undefined;
  healer?.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "node stopping");
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  await healer?.stop();
  await membership?.close();
  await node.close();
  logger.info("node stopped");
}

/**
 * Tombstones expire after the grace (heal/gc.ts), so a node away for longer may bring back, with
 * its manifests, files deleted meanwhile. It cannot tell on its own whether the cluster ran
 * without it (a whole cluster switched off for a while is fine), so it says so, loudly.
 */
async function warnIfAwayTooLong(node: StorageNode, tombstoneGraceMs: number, logger: Logger): Promise<void> {
  const last = await node.alive.last();
  if (last === undefined) return;
  const awayMs = Date.now() - last;
  if (awayMs <= tombstoneGraceMs) return;
  logger.warn(
    { awayMs, tombstoneGraceMs },
    "node: away from the cluster for longer than the tombstone grace; if the cluster ran without it, files deleted meanwhile may come back through its manifests: empty its data directory",
  );
}
