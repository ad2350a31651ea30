import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseHostPort } from "../src/config/index.ts";
import { hlcOf, type TableRecord } from "../src/formats/index.ts";
import { TABLES_FILE } from "../src/node/storage-node.ts";
import {
  type NodeProc,
  registryFlags,
  startNode,
  startNodes,
  stopAll,
  testNodeClient,
} from "./helpers/cluster.ts";
import { sha256 } from "./helpers/data.ts";
import { startRedisServer } from "./helpers/redis-topology.ts";
import { sameRecord, stamped, tableClient } from "./helpers/tables.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const TABLE = "objects";

describe("tables across node crashes and restarts (real processes, real disks)", () => {
  const nodes: NodeProc[] = [];
  const gateway = testNodeClient("gateway", "test-gateway");
  let dir: { path: string; remove: () => Promise<void> };
  let stopRedis: () => Promise<void>;
  let flags: ReturnType<typeof registryFlags>;
  const addrs = () => nodes.map((n) => n.addr);

  before(async () => {
    dir = await makeTempDir();
    const redis = await startRedisServer();
    stopRedis = () => redis.stop();
    flags = registryFlags(redis.port, `tables-crash-${process.pid}`);
    nodes.push(...(await startNodes(dir.path, 3, flags)));
  });
  after(async () => {
    await gateway.close();
    await stopAll(nodes);
    await stopRedis();
    await dir.remove();
  });

  /** Starts node `i` again on its data directory and port. */
  async function restart(i: number): Promise<void> {
    const old = nodes[i]!;
    nodes[i] = await startNode({ dataDir: old.dataDir, port: parseHostPort(old.addr)!.port, ...flags });
  }

  /** Every record of a (table, partition key) one node holds, tombstones included, read page by page. */
  async function allHeldBy(addr: string, pk: Buffer): Promise<TableRecord[]> {
    const out: TableRecord[] = [];
    let after: Buffer | undefined;
    do {
      const page = await gateway.tableRead(addr, {
        mode: "range",
        table: TABLE,
        partitionKey: pk,
        after,
        from: undefined,
        prefix: undefined,
        limit: 1000,
        includeDeleted: true,
      });
      out.push(...page.entries.map((e) => ({ table: TABLE, partitionKey: pk, ...e })));
      after = page.next;
    } while (after !== undefined);
    return out;
  }

  test("a record acknowledged at W survives SIGKILL of any one owner: reads return it", async () => {
    const client = tableClient(gateway, addrs);
    for (let i = 0; i < nodes.length; i++) {
      const [written] = await client.write([
        {
          table: TABLE,
          partitionKey: Buffer.from("survive"),
          sortKey: Buffer.from(`k${i}`),
          value: Buffer.from(`v${i}`),
        },
      ]);
      await nodes[i]!.stop("SIGKILL");
      const read = await client.read(TABLE, Buffer.from("survive"), Buffer.from(`k${i}`));
      assert.ok(sameRecord(read, written), `readable with node ${i} killed`);
      await restart(i);
      assert.ok(sameRecord(await client.read(TABLE, Buffer.from("survive"), Buffer.from(`k${i}`)), written));
    }
  });

  test("SIGKILL during writes: every record the node acknowledged is there after it restarts", async (t) => {
    const victim = nodes[0]!;
    const pk = Buffer.from("crash");
    const acknowledged: TableRecord[] = [];
    let next = 0;
    let killed = false;
    const writer = async () => {
      while (!killed) {
        const record = stamped(TABLE, "crash", `k${String(next++).padStart(6, "0")}`, hlcOf(Date.now()));
        try {
          await gateway.tableWrite(victim.addr, [record]);
          acknowledged.push(record);
        } catch {
          return;
        }
      }
    };
    const writers = Array.from({ length: 32 }, writer);
    await sleep(400);
    killed = true;
    await victim.stop("SIGKILL");
    await Promise.all(writers);
    assert.ok(acknowledged.length > 0, "some writes were acknowledged before the kill");
    t.diagnostic(`${acknowledged.length} writes acknowledged before the kill`);
    await restart(0);
    const held = await allHeldBy(nodes[0]!.addr, pk);
    const byKey = new Map(held.map((r) => [r.sortKey.toString(), r]));
    const lost = acknowledged.filter((r) => !sameRecord(byKey.get(r.sortKey.toString()), r));
    assert.deepEqual(
      lost.map((r) => r.sortKey.toString()),
      [],
    );
  });

  test("quorum writes go on while an owner is killed; every acknowledged one reads back after it returns", async (t) => {
    const client = tableClient(gateway, addrs);
    const acknowledged: TableRecord[] = [];
    let next = 0;
    let stop = false;
    const writer = async () => {
      while (!stop) {
        const k = `k${String(next++).padStart(6, "0")}`;
        try {
          acknowledged.push(
            ...(await client.write([
              {
                table: TABLE,
                partitionKey: Buffer.from("during"),
                sortKey: Buffer.from(k),
                value: Buffer.from(k),
              },
            ])),
          );
        } catch {
          // Refused while fewer than W owners answered: not acknowledged.
        }
      }
    };
    const writers = Array.from({ length: 16 }, writer);
    await sleep(200);
    await nodes[1]!.stop("SIGKILL");
    await sleep(300);
    stop = true;
    await Promise.all(writers);
    await restart(1);
    const page = await client.range(TABLE, Buffer.from("during"), { limit: 100_000 });
    const got = new Map(page.records.map((r) => [r.sortKey.toString(), r]));
    assert.ok(acknowledged.length > 10);
    t.diagnostic(`${acknowledged.length} quorum writes acknowledged`);
    assert.deepEqual(
      acknowledged
        .filter((r) => !sameRecord(got.get(r.sortKey.toString()), r))
        .map((r) => r.sortKey.toString()),
      [],
    );
  });

  test("records survive a clean restart; a data folder without tables (as today's main leaves it) starts and creates them", async () => {
    const pk = Buffer.from("restart");
    const records = Array.from({ length: 200 }, (_, i) =>
      stamped(TABLE, "restart", `k${i}`, hlcOf(Date.now())),
    );
    await gateway.tableWrite(nodes[2]!.addr, records);
    await nodes[2]!.stop("SIGTERM");
    await restart(2);
    assert.equal((await allHeldBy(nodes[2]!.addr, pk)).length, 200);

    const object = Buffer.from("an object stored before the tables existed");
    const id = sha256(object);
    await gateway.put(nodes[2]!.addr, id, object, object.length);
    await nodes[2]!.stop("SIGTERM");
    const data = nodes[2]!.dataDir;
    await rm(join(data, TABLES_FILE));
    await rm(join(data, `${TABLES_FILE}-lock`), { force: true });
    await restart(2);
    assert.deepEqual(await allHeldBy(nodes[2]!.addr, pk), []);
    assert.deepEqual(await gateway.getBuffer(nodes[2]!.addr, id), object);
    await gateway.tableWrite(nodes[2]!.addr, records.slice(0, 1));
    assert.equal((await allHeldBy(nodes[2]!.addr, pk)).length, 1);
  });
});
