import { randomBytes } from "node:crypto";
import { resolveTrust } from "../../src/credentials/index.ts";
import { HybridClock } from "../../src/formats/index.ts";
import { LiveOrder, TableClient } from "../../src/tables/index.ts";
import { NodeClient, type TableReadRequest } from "../../src/transport/index.ts";
import { type BenchCase, type RunOutcome, runPool } from "../lib/measure.ts";
import type { BenchCluster } from "./cluster.ts";

/**
 * Table records on the cluster's nodes, driven by a TableClient in this process holding a gateway
 * credential (as a gateway's would: no route serves tables yet): single-record quorum writes
 * (R = 3, W = 2) and reads (2 of 3 owners), and range reads of 1,000 records, beside the same
 * requests to one node alone (one commit, one read: the floor a quorum pays on top of).
 */
export interface TableCases {
  write: BenchCase;
  read: BenchCase;
  range: BenchCase;
  write1: BenchCase;
  read1: BenchCase;
  range1: BenchCase;
  close(): Promise<void>;
}

export interface TableCaseOptions {
  /** Records written, then read, per run. */
  records: number;
  /** Range reads of 1,000 records per run. */
  ranges: number;
  /** Requests in flight. */
  connections: number;
}

const TABLE = "bench";
const VALUE_BYTES = 100;
const RANGE = 1000;

/**
 * A TableClient on the cluster's nodes holding a gateway credential made from the cluster's
 * authority seed, as a gateway's would. With 3 nodes and R = 3 every node owns every record, so its
 * placement agrees with the gateway's.
 */
export function benchTableClient(
  cluster: BenchCluster,
  writer: string,
): { client: TableClient; nodes: NodeClient } {
  const trust = {
    ...resolveTrust(
      {
        authorityPublicKey: undefined,
        authoritySeed: Buffer.from(cluster.secrets.authorityKey, "hex"),
        identityText: undefined,
      },
      "gateway",
      writer,
    ),
    secret: Buffer.from(cluster.secrets.clusterSecret),
  };
  const nodes = new NodeClient({ trust });
  const members = cluster.nodes.map((n, i) => ({
    id: String(n.ready.nodeId),
    addr: n.address,
    zone: `zone-${i + 1}`,
    capacityBytes: 1,
  }));
  const order = new LiveOrder({ version: 0, live: () => members }, 7);
  const client = new TableClient({
    nodes,
    order: (id) => order.order(id),
    replicas: 3,
    writeQuorum: 2,
    clock: new HybridClock(),
    writer,
  });
  return { client, nodes };
}

export function tableCases(cluster: BenchCluster, o: TableCaseOptions): TableCases {
  const { client, nodes } = benchTableClient(cluster, "bench-tables");
  const roles = { client: process.pid, ...cluster.roles };
  const value = randomBytes(VALUE_BYTES);
  const first = cluster.nodes[0]!.address;
  /** The keys the last write run stored: what the read cases read. */
  let keys: { pk: Buffer; sk: Buffer }[] = [];
  const rangeKey = Buffer.from(`range-${randomBytes(4).toString("hex")}`);
  let rangeStored = false;

  const timed = async (
    count: number,
    inflight: number,
    one: (i: number) => Promise<void>,
  ): Promise<RunOutcome> => {
    const latenciesMs: number[] = [];
    let errors = 0;
    await runPool(count, inflight, async (i) => {
      const started = performance.now();
      try {
        await one(i);
      } catch (err) {
        if (errors++ === 0) process.stderr.write(`table request failed: ${(err as Error).message}\n`);
      }
      latenciesMs.push(performance.now() - started);
    });
    return { latenciesMs, errors };
  };
  const freshKeys = (run: number) =>
    Array.from({ length: o.records }, (_, i) => ({
      pk: Buffer.from(`bucket-${run}-${i % 64}`),
      sk: Buffer.from(`object-${String(i).padStart(6, "0")}-${randomBytes(4).toString("hex")}`),
    }));
  const ensureKeys = async () => {
    if (keys.length > 0) return;
    keys = freshKeys(-1);
    await client.write(keys.map((k) => ({ table: TABLE, partitionKey: k.pk, sortKey: k.sk, value })));
  };
  const ensureRange = async () => {
    if (rangeStored) return;
    const writes = Array.from({ length: RANGE }, (_, i) => ({
      table: TABLE,
      partitionKey: rangeKey,
      sortKey: Buffer.from(`photos/${String(i).padStart(5, "0")}.jpg`),
      value,
    }));
    for (let i = 0; i < RANGE; i += 200) await client.write(writes.slice(i, i + 200));
    rangeStored = true;
  };
  const request = (c: Omit<BenchCase, "group" | "roles" | "bytes">): BenchCase => ({
    group: "cluster",
    roles,
    bytes: o.records * VALUE_BYTES,
    ...c,
  });

  let pending: { pk: Buffer; sk: Buffer }[] = [];
  const write = request({
    key: "tbl-write",
    label: `table write, 1 record, W = 2 of 3 owners, ${o.connections} at a time`,
    async prepare(_bytes, run) {
      pending = freshKeys(run);
    },
    async run() {
      const outcome = await timed(pending.length, o.connections, async (i) => {
        const k = pending[i]!;
        await client.write([{ table: TABLE, partitionKey: k.pk, sortKey: k.sk, value }]);
      });
      keys = pending;
      return outcome;
    },
  });
  const read = request({
    key: "tbl-read",
    label: `table read, 1 record, 2 of 3 owners, ${o.connections} at a time`,
    prepare: ensureKeys,
    run: () =>
      timed(keys.length, o.connections, async (i) => {
        const k = keys[i]!;
        if ((await client.read(TABLE, k.pk, k.sk)) === undefined) throw new Error("a record is missing");
      }),
  });
  const range = request({
    key: "tbl-range",
    label: `table range read, ${RANGE} records, 2 of 3 owners merged`,
    prepare: ensureRange,
    run: () =>
      timed(o.ranges, 1, async () => {
        const page = await client.range(TABLE, rangeKey, { limit: RANGE });
        if (page.records.length !== RANGE) throw new Error(`a range gave ${page.records.length} records`);
      }),
  });
  const write1 = request({
    key: "tbl-write-1",
    label: `TABLE_WRITE 1 record -> 1 node, ${o.connections} at a time`,
    async prepare(_bytes, run) {
      pending = freshKeys(1000 + run);
    },
    run: () => {
      const hlc = new HybridClock();
      return timed(pending.length, o.connections, async (i) => {
        const k = pending[i]!;
        const version = { hlc: hlc.now(), writer: "bench-tables" };
        await nodes.tableWrite(first, [
          { table: TABLE, partitionKey: k.pk, sortKey: k.sk, version, deleted: false, value },
        ]);
      });
    },
  });
  const read1 = request({
    key: "tbl-read-1",
    label: `TABLE_READ 1 record <- 1 node, ${o.connections} at a time`,
    prepare: ensureKeys,
    run: () =>
      timed(keys.length, o.connections, async (i) => {
        const k = keys[i]!;
        await nodes.tableRead(first, { mode: "point", table: TABLE, partitionKey: k.pk, sortKey: k.sk });
      }),
  });
  const range1 = request({
    key: "tbl-range-1",
    label: `TABLE_READ pages of ${RANGE} records <- 1 node`,
    prepare: ensureRange,
    run: () =>
      timed(o.ranges, 1, async () => {
        let n = 0;
        let after: Buffer | undefined;
        do {
          const req: TableReadRequest = {
            mode: "range",
            table: TABLE,
            partitionKey: rangeKey,
            after,
            from: undefined,
            prefix: undefined,
            limit: RANGE,
            includeDeleted: true,
          };
          const page = await nodes.tableRead(first, req);
          n += page.entries.length;
          after = page.next;
        } while (after !== undefined);
        if (n !== RANGE) throw new Error(`a range gave ${n} records`);
      }),
  });
  return { write, read, range, write1, read1, range1, close: () => nodes.close() };
}
