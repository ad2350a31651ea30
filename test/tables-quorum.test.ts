import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { HybridClock, hlcOf, newestOf, type TableRecord } from "../src/formats/index.ts";
import { ErrorMsg, FrameType, TableWriteReq } from "../src/protocol/index.ts";
import { nodesForSuite, testNodeClient } from "./helpers/cluster.ts";
import { RawLink } from "./helpers/link.ts";
import { waitFor } from "./helpers/registry.ts";
import { heldBy, sameRecord, stamped, tableClient } from "./helpers/tables.ts";

const TABLE = "objects";

describe("tables on real nodes: quorum writes, reads, read-repair, ranges", () => {
  const suite = nodesForSuite(3);
  const gateway = testNodeClient("gateway", "test-gateway");
  after(() => gateway.close());
  const addrs = () => suite.nodes.map((n) => n.addr);
  const held = (addr: string, pk: string, sk: string) =>
    heldBy(gateway, addr, TABLE, Buffer.from(pk), Buffer.from(sk));
  const everyOwnerHolds = (
    pk: string,
    sk: string,
    want: (r: TableRecord | undefined) => boolean,
    what: string,
  ) =>
    waitFor(async () => (await Promise.all(addrs().map((a) => held(a, pk, sk)))).every(want), 10_000, what);

  test("a write acknowledged at W reaches every owner; a read returns it", async () => {
    const client = tableClient(gateway, addrs);
    const [written] = await client.write([
      {
        table: TABLE,
        partitionKey: Buffer.from("b1"),
        sortKey: Buffer.from("k1"),
        value: Buffer.from("hello"),
      },
    ]);
    const answered = await Promise.all(addrs().map((a) => held(a, "b1", "k1")));
    assert.ok(
      answered.filter((r) => sameRecord(r, written)).length >= 2,
      "W owners hold it when write resolves",
    );
    await everyOwnerHolds("b1", "k1", (r) => sameRecord(r, written), "every owner to hold the record");
    const read = await client.read(TABLE, Buffer.from("b1"), Buffer.from("k1"));
    assert.equal(read?.value.toString(), "hello");
    assert.equal(await client.read(TABLE, Buffer.from("b1"), Buffer.from("absent")), undefined);
  });

  test("a deletion beats an older write on every owner, whichever arrives last", async () => {
    const client = tableClient(gateway, addrs);
    const older = stamped(TABLE, "b2", "k", hlcOf(Date.now() - 1000, 0), { value: "old" });
    const deletion = stamped(TABLE, "b2", "k", hlcOf(Date.now() - 1000, 1), { deleted: true });
    await client.writeRecords([deletion]);
    await client.writeRecords([older]); // arrives after: stale on every owner
    await everyOwnerHolds("b2", "k", (r) => sameRecord(r, deletion), "the deletion on every owner");
    assert.equal(await client.read(TABLE, Buffer.from("b2"), Buffer.from("k")), undefined);
    const tombstone = await client.read(TABLE, Buffer.from("b2"), Buffer.from("k"), { includeDeleted: true });
    assert.equal(tombstone?.deleted, true);
  });

  test("two writers of one key at once end with the same winner on every owner", async () => {
    // Both clocks read the same wall time: versions tie on the clock and the writer id decides.
    const wall = () => 1_000_000;
    const alice = tableClient(gateway, addrs, { writer: "alice", clock: new HybridClock({ wallMs: wall }) });
    const bob = tableClient(gateway, () => [...addrs()].reverse(), {
      writer: "bob",
      clock: new HybridClock({ wallMs: wall }),
    });
    const key = { table: TABLE, partitionKey: Buffer.from("b3"), sortKey: Buffer.from("race") };
    const rounds = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? alice : bob).write([{ ...key, value: Buffer.from(`write ${i}`) }]),
      ),
    );
    const newest = rounds.flat().reduce(newestOf);
    await everyOwnerHolds("b3", "race", (r) => sameRecord(r, newest), "the same winner on every owner");
    assert.ok(sameRecord(await alice.read(TABLE, key.partitionKey, key.sortKey), newest));
  });

  test("read-repair brings a stale owner up to date (point reads and ranges)", async () => {
    const [stale, a, b] = addrs() as [string, string, string];
    const record = stamped(TABLE, "b4", "k", hlcOf(Date.now()), { value: "repaired" });
    for (const addr of [a, b]) await gateway.tableWrite(addr, [record]);
    assert.equal(await held(stale, "b4", "k"), undefined);
    // The stale owner first in order: the read asks it and one other.
    const client = tableClient(gateway, () => [stale, a, b]);
    assert.ok(sameRecord(await client.read(TABLE, Buffer.from("b4"), Buffer.from("k")), record));
    await waitFor(async () => sameRecord(await held(stale, "b4", "k"), record), 10_000, "read-repair");

    const many = Array.from({ length: 50 }, (_, i) =>
      stamped(TABLE, "b5", `k${String(i).padStart(2, "0")}`, hlcOf(Date.now())),
    );
    for (const addr of [a, b]) await gateway.tableWrite(addr, many);
    const page = await client.range(TABLE, Buffer.from("b5"), { limit: 100 });
    assert.equal(page.records.length, 50);
    await waitFor(
      async () =>
        (
          await gateway.tableRead(stale, {
            mode: "range",
            table: TABLE,
            partitionKey: Buffer.from("b5"),
            after: undefined,
            from: undefined,
            prefix: undefined,
            limit: 100,
            includeDeleted: true,
          })
        ).entries.length === 50,
      10_000,
      "range read-repair",
    );
  });

  test("range of 1,000 records: prefix, pages, limit, newest-wins and tombstones, exactly", async () => {
    const client = tableClient(gateway, addrs);
    const pk = Buffer.from("listing");
    const keys = Array.from({ length: 1000 }, (_, i) => `photos/${String(i).padStart(4, "0")}.jpg`);
    const writes = keys.map((k) => ({
      table: TABLE,
      partitionKey: pk,
      sortKey: Buffer.from(k),
      value: Buffer.alloc(100, 7),
    }));
    for (let i = 0; i < writes.length; i += 250) await client.write(writes.slice(i, i + 250));
    await client.write(
      ["docs/a", "docs/b", "photoz"].map((k) => ({
        table: TABLE,
        partitionKey: pk,
        sortKey: Buffer.from(k),
        value: Buffer.from("x"),
      })),
    );
    const gone = new Set(["photos/0010.jpg", "photos/0500.jpg", "photos/0999.jpg"]);
    await client.write(
      [...gone].map((k) => ({ table: TABLE, partitionKey: pk, sortKey: Buffer.from(k), deleted: true })),
    );
    const expected = keys.filter((k) => !gone.has(k));

    const all = await client.range(TABLE, pk, { prefix: Buffer.from("photos/"), limit: 1000 });
    assert.deepEqual(
      all.records.map((r) => r.sortKey.toString()),
      expected,
    );
    assert.equal(all.next, undefined);

    const paged: string[] = [];
    let after: Buffer | undefined;
    do {
      const page = await client.range(TABLE, pk, { prefix: Buffer.from("photos/"), after, limit: 100 });
      assert.ok(page.records.length <= 100);
      paged.push(...page.records.map((r) => r.sortKey.toString()));
      after = page.next;
    } while (after !== undefined);
    assert.deepEqual(paged, expected);

    const limited = await client.range(TABLE, pk, { from: Buffer.from("photos/0995.jpg"), limit: 3 });
    assert.deepEqual(
      limited.records.map((r) => r.sortKey.toString()),
      ["photos/0995.jpg", "photos/0996.jpg", "photos/0997.jpg"],
    );
    assert.equal(limited.next?.toString(), "photos/0997.jpg");
    const rest = await client.range(TABLE, pk, { after: limited.next, limit: 10 });
    assert.deepEqual(
      rest.records.map((r) => r.sortKey.toString()),
      ["photos/0998.jpg", "photoz"],
    );
    assert.equal(rest.next, undefined);
  });

  test("bad input gets a clear code and the node stays up", async () => {
    const [addr] = addrs() as [string];
    const bad = (r: TableRecord) => gateway.tableWrite(addr, [r]);
    const ok = stamped(TABLE, "b6", "k", hlcOf(Date.now()));
    await assert.rejects(bad({ ...ok, value: Buffer.alloc(32 * 1024 + 1) }), (e) =>
      isDfsError(e, "DFS_ERR_TOO_LARGE"),
    );
    await assert.rejects(bad({ ...ok, table: "Bad Table" }), (e) => isDfsError(e, "DFS_ERR_INVALID_RECORD"));
    await assert.rejects(bad({ ...ok, table: "chunk_refs" }), (e) => isDfsError(e, "DFS_ERR_INVALID_RECORD"));
    await assert.rejects(bad({ ...ok, version: { hlc: hlcOf(Date.now() + 3_600_000), writer: "w" } }), (e) =>
      isDfsError(e, "DFS_ERR_CLOCK_SKEW"),
    );
    const client = tableClient(gateway, addrs);
    await assert.rejects(
      client.write([{ table: "no good", partitionKey: Buffer.from("p"), sortKey: Buffer.alloc(0) }]),
      (e) => isDfsError(e, "DFS_ERR_INVALID_RECORD"),
    );

    // A value whose length field says 32 KiB + 1: refused on the field, the connection stays.
    const link = await RawLink.open(addr);
    const head = TableWriteReq.encode([{ ...ok, value: Buffer.alloc(0) }]);
    const oversized = Buffer.concat([head.subarray(0, head.length - 4), Buffer.from("00008001", "hex")]);
    link.send(FrameType.TABLE_WRITE, 1, oversized);
    const refused = await link.reply(1);
    assert.equal(refused?.type, FrameType.ERROR);
    assert.equal(ErrorMsg.decode(refused!.body).code, "DFS_ERR_TOO_LARGE");
    link.send(FrameType.PING, 2);
    assert.equal((await link.reply(2))?.type, FrameType.RESULT);
    // A body that ends early: a protocol error, and the connection closes.
    link.send(FrameType.TABLE_WRITE, 3, head.subarray(0, head.length - 3));
    assert.equal(await link.closedWithin(10_000), true);
    assert.equal(link.errorCode(), "DFS_ERR_TOO_LARGE");
    assert.ok(
      link.frames.some(
        (f) => f.type === FrameType.ERROR && ErrorMsg.decode(f.body).code === "DFS_ERR_PROTOCOL",
      ),
    );

    await gateway.tableWrite(addr, [ok]);
    assert.ok(sameRecord(await held(addr, "b6", "k"), ok));
  });

  test("roles: an admin may read records but not write them; a gateway and a node may do both", async () => {
    const [addr] = addrs() as [string];
    const admin = testNodeClient("admin", "test-admin");
    const node = suite.client; // a node credential
    try {
      const record = stamped(TABLE, "b7", "k", hlcOf(Date.now()));
      await assert.rejects(admin.tableWrite(addr, [record]), (e) => isDfsError(e, "DFS_ERR_FORBIDDEN"));
      assert.equal(await heldBy(admin, addr, TABLE, Buffer.from("b7"), Buffer.from("k")), undefined);
      await node.tableWrite(addr, [record]);
      assert.ok(sameRecord(await heldBy(admin, addr, TABLE, Buffer.from("b7"), Buffer.from("k")), record));
      assert.ok(sameRecord(await heldBy(node, addr, TABLE, Buffer.from("b7"), Buffer.from("k")), record));
    } finally {
      await admin.close();
    }
  });
});
