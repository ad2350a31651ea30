/**
 * A real cluster (Redis under Sentinel, 3 `dfs node` processes) and an in-process gateway serving
 * /v1 and the S3 API, for the S3 tests; access keys made through the /v1 admin routes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { S3Client, type S3ClientConfig, type S3ServiceException } from "@aws-sdk/client-s3";
import type { BucketGrant } from "../../src/access/index.ts";
import { type GatewayConfig, loadGatewayConfig } from "../../src/config/index.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { startS3Beside } from "../../src/s3/index.ts";
import { TEST_AUTHORITY_KEY, TEST_SECRET } from "./cluster.ts";
import { type Cluster, http, startCluster, TEST_KEY, waitLive } from "./gateway.ts";
import { testLogger } from "./registry.ts";

export const ADMIN = "s3-test-admin-key-0123456789";
const admin = { authorization: `Bearer ${ADMIN}` };
const json = { "content-type": "application/json" };

export interface S3Harness {
  /** http://host:port of the S3 listener. */
  endpoint: string;
  /** http://host:port of the gateway's /v1. */
  url: string;
  createKey(grants: BucketGrant[]): Promise<{ id: string; secret: string }>;
  stop(): Promise<void>;
}

/** A gateway's config for `cluster` with an S3 listener, both on free loopback ports; `flags` added. */
export function s3GatewayConfig(
  cluster: Cluster,
  flags: Record<string, string | boolean> = {},
): GatewayConfig {
  const [, sentinels, , masterName, , redisPrefix] = cluster.registryArgs;
  return loadGatewayConfig({
    env: {
      DFS_CLUSTER_SECRET: TEST_SECRET,
      DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY,
      DFS_CLUSTER_KEY: TEST_KEY,
      ...cluster.registryEnv,
    },
    flags: {
      listen: "127.0.0.1:0",
      "s3-listen": "127.0.0.1:0",
      sentinels,
      "master-name": masterName,
      "redis-prefix": redisPrefix,
      ...flags,
    },
  });
}

/** `keyed`: the gateway has an admin API key, so S3 requests must be signed by access keys. */
export async function startS3Harness(
  keyed: boolean,
  prefix = "s3test:",
  flags: Record<string, string> = {},
): Promise<S3Harness> {
  const cluster = await startCluster(3, prefix);
  try {
    const config = s3GatewayConfig(cluster, { ...(keyed ? { "api-keys": ADMIN } : {}), ...flags });
    const running = await startGateway(config, testLogger(), { startS3: startS3Beside });
    const url = `http://${running.address}`;
    await waitLive(url, 3, keyed ? admin : {});
    return {
      endpoint: `http://${running.s3Address}`,
      url,
      async createKey(grants) {
        const made = await http(url, "POST", "/v1/keys", {
          headers: { ...admin, ...json },
          body: JSON.stringify({ name: "s3-test" }),
        });
        assert.equal(made.status, 201);
        const key = made.json as { id: string; secret: string };
        for (const g of grants) {
          const r = await http(url, "PUT", `/v1/keys/${key.id}/grants`, {
            headers: { ...admin, ...json },
            body: JSON.stringify(g),
          });
          assert.equal(r.status, 200, r.body.toString());
        }
        return { id: key.id, secret: key.secret };
      },
      async stop() {
        await running.close(5000);
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** An SDK client of the harness's S3 endpoint, path style, one attempt (errors show as they are). */
export function s3Client(
  h: S3Harness,
  c: { id: string; secret: string },
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({
    endpoint: h.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: c.id, secretAccessKey: c.secret },
    maxAttempts: 1,
    ...extra,
  });
}

/** Fails with this S3 error name (undefined: a bodiless answer such as 304) and status. */
export async function fails(p: Promise<unknown>, name: string | undefined, status: number): Promise<void> {
  await assert.rejects(p, (err: S3ServiceException) => {
    if (name !== undefined) assert.equal(err.name, name, `${err.name}: ${err.message}`);
    assert.equal(err.$metadata.httpStatusCode, status);
    return true;
  });
}

export async function bytesOf(body: unknown): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const p of body as AsyncIterable<Uint8Array>) out.push(Buffer.from(p));
  return Buffer.concat(out);
}

export const md5 = (b: Buffer): string => createHash("md5").update(b).digest("hex");
