import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadRegistryConfig } from "../src/config/load.ts";
import { issueIdentity, signingKeyFromSeed } from "../src/credentials/index.ts";
import type { NodeMembership } from "../src/registry/index.ts";
import { startNodeMembership } from "../src/registry/index.ts";
import { TEST_AUTHORITY_KEY } from "./helpers/cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  http,
  startCluster,
  startGatewayInProcess,
  waitLive,
} from "./helpers/gateway.ts";
import { Relay } from "./helpers/link.ts";
import { tcpProbe, testLogger } from "./helpers/registry.ts";

const authority = signingKeyFromSeed(Buffer.from(TEST_AUTHORITY_KEY, "hex"));

/** HELLO: a 12-byte header and a 64-byte body; anything more would be AUTH or a request. */
const HELLO_BYTES = 12 + 64;

describe("a relay registered in Redis under a node credential of its own (a stolen or rogue node's)", () => {
  let cluster: Cluster;
  let gw: Gateway;
  let relay: Relay;
  let fake: NodeMembership | undefined;

  before(async () => {
    cluster = await startCluster(3, `relay-${process.pid}:`);
    relay = new Relay(cluster.nodes[0]!.addr);
    await relay.listen();
    const [, sentinels, , masterName, , prefix] = cluster.registryArgs;
    const registry = loadRegistryConfig({
      env: cluster.registryEnv,
      flags: { sentinels: sentinels!, "master-name": masterName!, "redis-prefix": prefix! },
    });
    // A "node" whose address is the relay, in front of a real node: the relay hands every
    // handshake to node 0 and would keep the session, were it given one. Its record is signed
    // under a node credential for its own id, so every view lists it (an unsigned one is ignored).
    fake = await startNodeMembership(
      registry,
      () => ({
        id: "f".repeat(32),
        addr: relay.addr,
        zone: "relay",
        capacityBytes: 1 << 40,
        freeBytes: 1 << 40,
        version: "relay",
        startedAt: Date.now(),
      }),
      {
        logger: testLogger(),
        probe: tcpProbe,
        identity: issueIdentity(authority, "node", "f".repeat(32), Date.now(), 3_600_000).identity,
      },
    );
    gw = await startGatewayInProcess(cluster);
    await waitLive(gw.url, 4);
  });

  after(async () => {
    await gw?.stop();
    await fake?.close();
    await relay?.close();
    await cluster?.stop();
  });

  test("the gateway dials it, gets no session, and stores on the real owners", async () => {
    const files = Array.from({ length: 12 }, (_, i) => patternBytes(3000 + i, 70 + i));
    for (const data of files) {
      const res = await http(gw.url, "PUT", "/v1/files", { body: data });
      assert.equal(res.status, 201, `upload: ${res.body.toString()}`);
      const back = await http(gw.url, "GET", `/v1/files/${sha256(data)}`);
      assert.ok(back.body.equals(data));
    }
    assert.ok(relay.upBytes.length > 0, "the relay was never dialled: the test proves nothing");
    // The gateway stopped at SERVER_HELLO (node 0's credential, not "fff..."): no AUTH, no request.
    for (const sent of relay.upBytes) assert.ok(sent <= HELLO_BYTES, `${sent} bytes went through the relay`);
  });
});
