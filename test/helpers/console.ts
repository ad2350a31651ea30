/**
 * A cluster with a gateway that serves the web console (and the S3 API, for share links), the
 * console built first, and an access key to sign in with.
 */
import assert from "node:assert/strict";
import { buildConsole } from "../../console/build.ts";
import { addConsole } from "../../src/console/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { startS3Beside } from "../../src/s3/index.ts";
import { type Cluster, http, startCluster, waitLive } from "./gateway.ts";
import { testLogger } from "./registry.ts";
import { ADMIN, s3GatewayConfig } from "./s3.ts";

export const admin = { authorization: `Bearer ${ADMIN}` };
const json = { "content-type": "application/json" };

export interface ConsoleHarness {
  cluster: Cluster;
  gateway: RunningGateway;
  url: string;
  key: { id: string; secret: string };
  stop(): Promise<void>;
}

/** Creates an access key with every grant on "*" (the cluster page needs read on "*"). */
export async function createKey(url: string, name = "console"): Promise<{ id: string; secret: string }> {
  const made = await http(url, "POST", "/v1/keys", {
    headers: { ...admin, ...json },
    body: JSON.stringify({ name }),
  });
  assert.equal(made.status, 201);
  const key = made.json as { id: string; secret: string };
  const granted = await http(url, "PUT", `/v1/keys/${key.id}/grants`, {
    headers: { ...admin, ...json },
    body: JSON.stringify({ bucket: "*", read: true, write: true, owner: true }),
  });
  assert.equal(granted.status, 200);
  return key;
}

/** A gateway with the console (as `dfs gateway` runs it) and the S3 listener, admin key ADMIN. */
export async function startConsoleGateway(
  cluster: Cluster,
  flags: Record<string, string | boolean> = {},
): Promise<RunningGateway> {
  const config = s3GatewayConfig(cluster, { "api-keys": ADMIN, ...flags });
  return startGateway(config, testLogger(), { startS3: startS3Beside, extend: addConsole });
}

/**
 * startCluster, tried up to three times: on a loaded machine a node can miss the harness's start
 * deadline, and these tests are about the console, not about start-up times.
 */
async function startClusterPatiently(prefix: string): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster(3, `${prefix}${attempt}:`);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

export async function startConsoleHarness(prefix: string): Promise<ConsoleHarness> {
  await buildConsole();
  const cluster = await startClusterPatiently(prefix);
  try {
    const gateway = await startConsoleGateway(cluster);
    const url = `http://${gateway.address}`;
    await waitLive(url, 3, admin);
    const key = await createKey(url);
    return {
      cluster,
      gateway,
      url,
      key,
      async stop() {
        await gateway.close(2000);
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
