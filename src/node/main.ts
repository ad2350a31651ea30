import type { NodeConfig } from "../config/index.ts";
import type { Logger } from "../logger.ts";
import { StorageNode } from "./storage-node.ts";

/**
 * Runs a storage node until SIGTERM/SIGINT: listen, (register,) serve, then shut down gracefully:
 * leave the registry at once, finish in-flight requests, close the store.
 */
export async function runNode(config: NodeConfig, logger: Logger): Promise<void> {
  const node = await StorageNode.start(config, logger);
  logger.info(
    { address: node.advertise, nodeId: node.nodeId, dataDir: config.node.dataDir, zone: config.node.zone },
    "node listening",
  );
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
  await node.close();
  logger.info("node stopped");
}
