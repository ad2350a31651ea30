import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { resolveTrust } from "../../src/credentials/index.ts";
import { startRedisServer } from "../../src/dev/redis-topology.ts";
import { isDfsError } from "../../src/errors.ts";
import { SERVICE_NODE_FLAGS } from "../../src/runtime.ts";
import { NodeClient } from "../../src/transport/index.ts";
import type { BenchCase } from "../lib/measure.ts";
import { runPool } from "../lib/measure.ts";
import { PIECE_BYTES } from "../lib/options.ts";
import { type Child, startChild } from "../lib/procs.ts";
import { Chunks } from "./chunks.ts";

/**
 * Our figures: three real `dfs node` processes (fsync on, the default) and one NodeClient in this
 * process with `inflight` requests at a time. A PUT run writes chunks whose ids are computed before
 * the clock starts, new ones or again over an earlier run's copies (a PUT of an id held stores it
 * anew); afterwards every target is checked to hold them, unmeasured.
 * Measured runs rewrite the warm-up's ids unless `freshIds`, so the measured cost is that of a
 * node whose chunks/ab/cd/ directories exist, not of a brand-new one.
 */
export interface NodeCases {
  put1: BenchCase;
  put3: BenchCase;
  get1: BenchCase;
  close(): Promise<void>;
}

type Target = { role: string; pid: number; address: string };

const SECRET = "bench-cluster-secret-0123456789";
/** The bench's own cluster authority: nodes issue themselves credentials from it, as `dfs dev` does. */
const AUTHORITY_KEY = randomBytes(32);
const SALT = { put1: 1, put3: 3, get1: 7 };

export interface NodeCaseOptions {
  inflight: number;
  freshIds: boolean;
  nodeFlags: string[];
  /** The dfs CLI script the nodes run, relative to the repository root (see dfsEntry). */
  entry: string;
}

export async function startNodeCases(root: string, o: NodeCaseOptions): Promise<NodeCases> {
  const { inflight, nodeFlags } = o;
  // Nodes forward a chain only to live members of their registry view: a lone Redis holds it.
  const redis = await startRedisServer();
  const start = (name: string): Promise<Child> =>
    startChild({
      name: `node-${name}`,
      args: [
        o.entry,
        "node",
        "--listen",
        "127.0.0.1:0",
        "--data",
        join(root, `node-${name}`),
        "--redis",
        `redis://127.0.0.1:${redis.port}`,
        "--redis-prefix",
        "bench-node:",
      ],
      // Healing stays out of the measurements.
      env: {
        DFS_CLUSTER_SECRET: SECRET,
        DFS_AUTHORITY_KEY: AUTHORITY_KEY.toString("hex"),
        DFS_HEARTBEAT_MS: "200",
        DFS_REPAIR_INTERVAL_MS: "3600000",
      },
      nodeFlags: [...SERVICE_NODE_FLAGS, ...nodeFlags],
      isReady: (line) => line.msg === "node listening",
    });
  const [a, b, c] = await Promise.all([start("A"), start("B"), start("C")]);
  // The bench drives the nodes as a gateway would.
  const trust = resolveTrust(
    { authorityPublicKey: undefined, authoritySeed: AUTHORITY_KEY, identityText: undefined },
    "gateway",
    "bench",
  );
  const client = new NodeClient({ trust: { ...trust, secret: Buffer.from(SECRET) } });
  await untilForwarded(client, [a!.address, b!.address, c!.address]);
  const chunks = new Chunks(PIECE_BYTES, inflight);

  const putCase = (key: string, label: string, salt: number, targets: Target[]): BenchCase => {
    const [first, ...forward] = targets.map((t) => t.address) as [string, ...string[]];
    let ids: string[] = [];
    let run = 0;
    return {
      key,
      label,
      group: "node",
      roles: Object.fromEntries([["client", process.pid], ...targets.map((t) => [t.role, t.pid])]),
      async prepare(bytes, r) {
        run = o.freshIds ? r : 0;
        ids = chunks.ids(salt, run, bytes / PIECE_BYTES);
      },
      run: async () => {
        await runPool(ids.length, inflight, async (i, w) => {
          const result = await client.put(first, ids[i]!, chunks.chunk(w, salt, run, i), PIECE_BYTES, {
            forward,
          });
          if (result.stored.length !== targets.length || result.failed.length > 0) {
            throw new Error(
              `PUT ${ids[i]}: stored on ${result.stored.join(",")}, failed ${JSON.stringify(result.failed)}`,
            );
          }
        });
        return undefined;
      },
      async reset() {
        // No peer can delete (a node removes only by its own repair and GC): the next run writes
        // the same ids again, over the copies this one left. Each must be there now.
        for (const t of targets) {
          const held = await client.has(t.address, ids);
          const missing = ids.filter((_, i) => !held[i]);
          if (missing.length > 0) throw new Error(`${t.address} did not hold ${missing[0]} after the PUT`);
        }
      },
    };
  };

  let getId: string | undefined;
  const get1: BenchCase = {
    key: "node-get-1",
    label: "GET cached 1 MiB <- 1 node",
    group: "node",
    roles: { client: process.pid, A: a!.pid },
    async prepare() {
      if (getId !== undefined) return;
      const id = chunks.ids(SALT.get1, 0, 1)[0]!;
      await client.put(a!.address, id, chunks.chunk(0, SALT.get1, 0, 0), PIECE_BYTES);
      getId = id;
    },
    run: async (bytes) => {
      await runPool(bytes / PIECE_BYTES, inflight, async () => {
        const { body } = await client.get(a!.address, getId!);
        let got = 0;
        for await (const piece of body) got += (piece as Buffer).length;
        if (got !== PIECE_BYTES) throw new Error(`GET ${getId}: ${got} bytes, expected ${PIECE_BYTES}`);
      });
      return undefined;
    },
  };

  return {
    put1: putCase("node-put-1", "PUT 1 MiB -> 1 node", SALT.put1, [{ role: "A", ...a! }]),
    put3: putCase("node-put-3", "PUT 1 MiB -> chain of 3", SALT.put3, [
      { role: "A", ...a! },
      { role: "B", ...b! },
      { role: "C", ...c! },
    ]),
    get1,
    async close() {
      await client.close();
      await redis.stop();
    },
  };
}

/**
 * Waits until each node of the chain accepts the rest as its forward list (its registry view
 * lists them). Probes with bytes that do not match their id: nothing is stored.
 */
async function untilForwarded(client: NodeClient, chain: readonly string[]): Promise<void> {
  const probe = Buffer.from("probe");
  const wrongId = "0".repeat(64);
  const deadline = performance.now() + 15_000;
  for (let i = 0; i < chain.length - 1; i++) {
    for (;;) {
      const refused = await client
        .put(chain[i]!, wrongId, probe, probe.length, { forward: chain.slice(i + 1) })
        .then(
          () => false,
          (err: unknown) => isDfsError(err, "DFS_ERR_FORWARD_REFUSED"),
        );
      if (!refused) break;
      if (performance.now() > deadline) throw new Error(`${chain[i]} never accepted its forward list`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
