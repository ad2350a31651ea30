/**
 * The registry against a real Redis Sentinel topology (one per file): registration, heartbeats,
 * expiry of a SIGKILLed node, deregistration, incarnations, dead-node removal, the `dfs nodes` CLI.
 * Short TTLs keep it fast; every test uses its own key prefix.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { RegistryConfig } from "../src/config/index.ts";
import { isDfsError } from "../src/errors.ts";
import {
  chooseIncarnation,
  createRedis,
  type NodeInfo,
  type NodeRecord,
  type NodeRecordInput,
  startMembershipView,
  startNodeMembership,
} from "../src/registry/index.ts";
import { decodeRecord, encodeRecord } from "../src/registry/keys.ts";
import { responsible } from "../src/registry/reaper.ts";
import { CLI, startProcess } from "./helpers/proc.ts";
import { startMember, testLogger, useRegistryTopology, waitFor } from "./helpers/registry.ts";

const FIXTURE = new URL("./fixtures/registry-node.ts", import.meta.url).pathname;
const logger = testLogger();
const registry = useRegistryTopology(logger);
const { fast } = registry;

async function stored(prefix: string, id: string): Promise<NodeRecord | undefined> {
  const text = await registry.db.client.get(`${prefix}node:${id}`);
  return text === null ? undefined : (JSON.parse(text) as NodeRecord);
}

function startFixture(config: RegistryConfig, id: string) {
  return startProcess([FIXTURE], {
    env: { DFS_TEST_REGISTRY: JSON.stringify(config), DFS_TEST_NODE_ID: id, DFS_LOG_LEVEL: "info" },
  });
}

test("a node registers at once and every heartbeat re-asserts its whole entry", async () => {
  const prefix = "reg1:";
  const config = fast(prefix);
  const view = await startMembershipView(config, { logger });
  const a = await startMember(config, "node-a");
  try {
    // Registered before startNodeMembership resolved: index, entry and a heartbeat key with a TTL.
    assert.deepEqual(await registry.db.client.smembers(`${prefix}members`), ["node-a"]);
    const first = await stored(prefix, "node-a");
    assert.equal(first?.addr, a.addr);
    assert.equal(first?.incarnation, a.membership.incarnation);
    const pttl = await registry.db.client.pttl(`${prefix}hb:node-a`);
    assert.ok(pttl > 0 && pttl <= 1500, `heartbeat PTTL ${pttl}`);

    // Each beat calls self() again: fresh free space reaches Redis and the views.
    a.freeBytes = 777;
    await waitFor(async () => (await stored(prefix, "node-a"))?.freeBytes === 777, 3000, "fresh freeBytes");

    // Soft state: an entry lost (as in a failover) comes back with the next beat.
    await registry.db.client.del(`${prefix}node:${"node-a"}`, `${prefix}members`);
    await waitFor(async () => (await stored(prefix, "node-a")) !== undefined, 3000, "entry re-asserted");
    assert.deepEqual(await registry.db.client.smembers(`${prefix}members`), ["node-a"]);

    const seen = await waitFor(
      () => view.live().find((n) => n.id === "node-a" && n.freeBytes === 777),
      3000,
      "view",
    );
    assert.equal(seen.state, "live");
    assert.equal(seen.addr, a.addr);
    assert.ok(seen.lastHeartbeatAgeMs < 1500, `age ${seen.lastHeartbeatAgeMs}`);
    assert.equal(view.stale, false);
    assert.ok(view.ageMs < 1500, `view age ${view.ageMs}`);
  } finally {
    await a.close();
    await view.close();
  }
});

test("close() deregisters at once: the node leaves the views well before its TTL", async () => {
  const prefix = "reg2:";
  const config = fast(prefix, { heartbeatTtlMs: 10_000, resyncIntervalMs: 5000 });
  const view = await startMembershipView(config, { logger });
  const a = await startMember(config, "node-a");
  const b = await startMember(config, "node-b");
  try {
    await waitFor(() => view.live().length === 2, 3000, "both live");
    const left: NodeInfo[] = [];
    view.on("leave", (n) => left.push(n));
    // The version caches compare: still over heartbeats, up with the leave.
    const version = view.version;
    const beats = a.membership.view.version;
    await sleep(config.heartbeatIntervalMs * 3);
    assert.equal(view.version, version, "heartbeats alone moved the version");
    const t0 = performance.now();
    await b.close();
    await waitFor(() => left.some((n) => n.id === "node-b"), 2000, "leave of node-b");
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `left after ${ms} ms`);
    assert.ok(view.version > version, "a leave must move the version");
    await waitFor(() => a.membership.view.version > beats, 2000, "the member's view version");
    assert.deepEqual(
      view.all().map((n) => n.id),
      ["node-a"],
    );
    assert.deepEqual(
      a.membership.view.all().map((n) => n.id),
      ["node-a"],
    );
    assert.equal(await registry.db.client.exists(`${prefix}node:node-b`, `${prefix}hb:node-b`), 0);
    assert.deepEqual(await registry.db.client.smembers(`${prefix}members`), ["node-a"]);
  } finally {
    await a.close();
    await view.close();
  }
});

test("a SIGKILLed node leaves every view after its TTL, then a peer removes its entry", async (t) => {
  const prefix = "reg3:";
  const config = fast(prefix);
  const view = await startMembershipView(config, { logger });
  const peer = await startMember(config, "node-peer", { reapIntervalMs: 500 });
  const child = startFixture(config, "node-crash");
  try {
    await child.waitForLog((l) => l.msg === "registered");
    await waitFor(() => view.live().some((n) => n.id === "node-crash"), 3000, "crash node live");
    const leaves: string[] = [];
    view.on("leave", (n) => leaves.push(n.id));
    peer.membership.view.on("leave", (n) => leaves.push(`peer-view:${n.id}`));

    const killedAt = performance.now();
    await child.stop("SIGKILL");
    await waitFor(() => leaves.includes("node-crash"), 5000, "gateway view leave");
    const leftAfter = performance.now() - killedAt;
    await waitFor(() => leaves.includes("peer-view:node-crash"), 3000, "peer view leave");
    // TTL 1500 + one resync (500) is the bound; keyspace events usually make it faster.
    assert.ok(leftAfter < 1500 + 500 + 500, `left the view ${Math.round(leftAfter)} ms after SIGKILL`);
    assert.ok(leftAfter > 1000, `left too early (${Math.round(leftAfter)} ms): TTL not respected`);
    assert.equal(
      view.live().some((n) => n.id === "node-crash"),
      false,
    );

    // Expired but still registered, until the peer probes it (the port is closed) and removes it.
    await waitFor(
      async () => !(await registry.db.client.sismember(`${prefix}members`, "node-crash")),
      5000,
      "reaped",
    );
    assert.equal(await registry.db.client.exists(`${prefix}node:node-crash`), 0);
    await waitFor(() => !view.all().some((n) => n.id === "node-crash"), 3000, "gone from all()");
    t.diagnostic(`SIGKILLed node left the view ${Math.round(leftAfter)} ms after the kill (TTL 1500 ms)`);
  } finally {
    await child.stop("SIGKILL");
    await peer.close();
    await view.close();
  }
});

test("a restarted node re-registers with a higher incarnation", async () => {
  const prefix = "reg4:";
  const config = fast(prefix);
  const view = await startMembershipView(config, { logger });
  const events: string[] = [];
  view.on("join", (n) => events.push(`join:${n.incarnation}`));
  view.on("leave", (n) => events.push(`leave:${n.incarnation}`));
  const incarnationOf = async (p: ReturnType<typeof startFixture>) =>
    Number((await p.waitForLog((l) => l.msg === "registered")).incarnation);
  let child = startFixture(config, "node-r");
  try {
    const i1 = await incarnationOf(child);
    await waitFor(() => events.includes(`join:${i1}`), 3000, "first join");
    // Graceful stop: deregistered at once.
    await child.stop("SIGTERM");
    await waitFor(() => events.includes(`leave:${i1}`), 2000, "leave after SIGTERM");
    assert.equal(await registry.db.client.exists(`${prefix}node:node-r`), 0);

    child = startFixture(config, "node-r");
    const i2 = await incarnationOf(child);
    assert.ok(i2 > i1, `incarnation ${i2} after ${i1}`);
    await waitFor(() => events.includes(`join:${i2}`), 3000, "second join");

    // A crash and a restart within the TTL: the entry never expired, yet the new start is seen as one.
    await child.stop("SIGKILL");
    child = startFixture(config, "node-r");
    const i3 = await incarnationOf(child);
    assert.ok(i3 > i2, `incarnation ${i3} after ${i2}`);
    await waitFor(() => events.includes(`join:${i3}`), 3000, "third join");
    assert.ok(events.indexOf(`leave:${i2}`) < events.indexOf(`join:${i3}`), events.join(" "));
    assert.equal(view.live().find((n) => n.id === "node-r")?.incarnation, i3);
  } finally {
    await child.stop("SIGKILL");
    await view.close();
  }
});

test("dead-node removal keeps a peer that answers and removes one that does not", async () => {
  const prefix = "reg5:";
  const config = fast(prefix);
  const listening = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  const plant = async (id: string, addr: string) => {
    const record = {
      id,
      addr,
      zone: "z1",
      capacityBytes: 1,
      freeBytes: 1,
      version: "old",
      startedAt: 1,
      incarnation: 1,
      lastHeartbeat: Date.now() - 60_000,
      heartbeatTtlMs: 1500,
    };
    await registry.db.client
      .multi()
      .sadd(`${prefix}members`, id)
      .set(`${prefix}node:${id}`, JSON.stringify(record))
      .exec();
  };
  await plant("ghost-up", `127.0.0.1:${(listening.address() as { port: number }).port}`);
  await plant("ghost-down", `127.0.0.1:${closedPort}`);
  await registry.db.client.sadd(`${prefix}members`, "orphan"); // an index entry without a registration
  const view = await startMembershipView(config, { logger });
  assert.deepEqual(
    view.all().map((n) => `${n.id}:${n.state}`),
    ["ghost-down:expired", "ghost-up:expired"],
  );
  assert.deepEqual(view.live(), []);
  const warnings: string[] = [];
  const capture = testLogger();
  const spy = Object.assign(Object.create(capture), {
    child: () => spy,
    warn: (obj: { peer?: string }, msg: string) => warnings.push(`${obj.peer}:${msg}`),
  });
  const reaper = await startMember(config, "node-reaper", { reapIntervalMs: 300, logger: spy });
  try {
    await waitFor(
      async () => !(await registry.db.client.sismember(`${prefix}members`, "ghost-down")),
      5000,
      "ghost-down",
    );
    await waitFor(
      async () => !(await registry.db.client.sismember(`${prefix}members`, "orphan")),
      5000,
      "orphan",
    );
    // The answering peer is probed pass after pass and kept every time.
    await waitFor(() => warnings.filter((w) => w.startsWith("ghost-up:")).length >= 2, 5000, "two passes");
    assert.equal(await registry.db.client.sismember(`${prefix}members`, "ghost-up"), 1);
    assert.notEqual(await registry.db.client.get(`${prefix}node:ghost-up`), null);
    await waitFor(() => !view.all().some((n) => n.id === "ghost-down"), 3000, "view drops ghost-down");
  } finally {
    await reaper.close();
    await view.close();
    listening.close();
  }
});

test("exactly two live nodes are in charge of reaping each dead peer", () => {
  const live = Array.from({ length: 20 }, (_, i) => `node-${i}`);
  for (const peer of ["dead-1", "dead-2", "dead-3"]) {
    const inCharge = live.filter((self) => responsible(peer, self, live));
    assert.equal(inCharge.length, 2, `${peer}: ${inCharge.join(",")}`);
  }
  assert.equal(responsible("dead", "alone", []), true);
});

test("incarnations grow across restarts even if Redis lost the last one, or the clock stepped back", () => {
  assert.equal(chooseIncarnation(undefined, 1_000), 1_000); // first start, or Redis was emptied
  assert.equal(chooseIncarnation(1_000, 5_000), 5_000);
  assert.equal(chooseIncarnation(9_000, 5_000), 9_001); // clock behind the last start
});

const HEAL = {
  underReplicated: 2,
  repaired: 3,
  repairedBytes: 3000,
  dropped: 1,
  scrubbed: 40,
  quarantined: 1,
  restored: 1,
  collected: 5,
  collectedBytes: 5000,
  expiredTombstones: 4,
  repairRounds: 7,
  scrubRounds: 2,
  gcRounds: 3,
  syncRounds: 7,
  syncDifferences: 12,
  syncRepaired: 3,
  syncRequests: 28,
  syncBytes: 230_000,
};

function record(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    addr: "127.0.0.1:9",
    zone: "z1",
    capacityBytes: 10_000,
    freeBytes: 1000,
    version: "v",
    startedAt: 1,
    incarnation: 1,
    lastHeartbeat: Date.now(),
    heartbeatTtlMs: 10_000,
    ...extra,
  };
}

test("heal counters in a record: absent (older nodes) or garbage parse as a record without them", () => {
  const old = decodeRecord(JSON.stringify(record("old")));
  assert.equal(old?.id, "old");
  assert.equal(old?.heal, undefined);
  const withHeal = decodeRecord(encodeRecord(record("new", { heal: HEAL }) as unknown as NodeRecord));
  assert.deepEqual(withHeal?.heal, HEAL);
  // A node older than the expired-tombstones counter publishes none: it reads as 0.
  const older = (({ expiredTombstones: _, ...rest }) => rest)(HEAL);
  assert.deepEqual(decodeRecord(JSON.stringify(record("older", { heal: older })))?.heal, {
    ...HEAL,
    expiredTombstones: 0,
  });
  // One older than sync publishes none of the sync counters: they read as 0.
  const beforeSync = (({
    syncRounds: _r,
    syncDifferences: _d,
    syncRepaired: _s,
    syncRequests: _q,
    syncBytes: _b,
    ...rest
  }) => rest)(HEAL);
  assert.deepEqual(decodeRecord(JSON.stringify(record("before-sync", { heal: beforeSync })))?.heal, {
    ...HEAL,
    syncRounds: 0,
    syncDifferences: 0,
    syncRepaired: 0,
    syncRequests: 0,
    syncBytes: 0,
  });
  const garbage: unknown[] = [
    "lots",
    null,
    42,
    [1, 2],
    {},
    { ...HEAL, quarantined: -1 },
    { ...HEAL, scrubbed: 1.5 },
    { ...HEAL, collectedBytes: "5000" },
    { ...HEAL, repaired: 2 ** 60 },
    (({ gcRounds: _, ...rest }) => rest)(HEAL),
  ];
  for (const heal of garbage) {
    const r = decodeRecord(JSON.stringify(record("odd", { heal })));
    assert.equal(r?.id, "odd", `a record with heal ${JSON.stringify(heal)} still parses`);
    assert.equal(r?.heal, undefined, `heal ${JSON.stringify(heal)} is ignored`);
  }
  // Fields a later version may add are dropped, not fatal.
  assert.deepEqual(decodeRecord(JSON.stringify(record("x", { heal: { ...HEAL, later: 1 } })))?.heal, HEAL);
});

test("features in a record: kept as listed; absent (older nodes) or garbage read as none", () => {
  assert.deepEqual(decodeRecord(JSON.stringify(record("new", { features: ["sync"] })))?.features, ["sync"]);
  assert.equal(decodeRecord(JSON.stringify(record("old")))?.features, undefined);
  for (const features of ["sync", [1], Array(33).fill("x"), ["x".repeat(65)]]) {
    const r = decodeRecord(JSON.stringify(record("odd", { features })));
    assert.equal(r?.id, "odd", `a record with features ${JSON.stringify(features)} still parses`);
    assert.equal(r?.features, undefined);
  }
});

test("store counters in a record: kept when whole, dropped (not the node) when garbled", () => {
  const STORE = {
    cacheHits: 10,
    cacheMisses: 2,
    packFiles: 1,
    packBytes: 9000,
    packLiveBytes: 8000,
    packBatches: 3,
    packRecords: 7,
    packCompactions: 0,
  };
  assert.deepEqual(
    decodeRecord(encodeRecord(record("s", { store: STORE }) as unknown as NodeRecord))?.store,
    STORE,
  );
  for (const store of ["x", null, {}, { ...STORE, packBytes: -1 }, { ...STORE, cacheHits: "10" }]) {
    const r = decodeRecord(JSON.stringify(record("odd", { store, heal: HEAL })));
    assert.equal(r?.id, "odd");
    assert.equal(r?.store, undefined, `store ${JSON.stringify(store)} is ignored`);
    assert.deepEqual(r?.heal, HEAL, "heal is kept");
  }
});

test("a view lists nodes with, without and with garbled heal counters (a mixed-version cluster)", async () => {
  const prefix = "regheal:";
  const config = fast(prefix);
  const tx = registry.db.client.multi();
  for (const [id, heal] of [
    ["node-new", HEAL],
    ["node-old", undefined],
    ["node-odd", { repaired: "many" }],
  ] as const) {
    tx.sadd(`${prefix}members`, id)
      .set(`${prefix}node:${id}`, JSON.stringify(record(id, heal === undefined ? {} : { heal })))
      .set(`${prefix}hb:${id}`, "1", "PX", 10_000);
  }
  await tx.exec();
  const view = await startMembershipView(config, { logger });
  try {
    const live = await waitFor(() => (view.live().length === 3 ? view.live() : false), 3000, "3 live nodes");
    const byId = new Map(live.map((n) => [n.id, n]));
    assert.deepEqual(byId.get("node-new")?.heal, HEAL);
    assert.equal(byId.get("node-old")?.heal, undefined);
    assert.equal("heal" in byId.get("node-old")!, false);
    assert.equal(byId.get("node-odd")?.heal, undefined);
  } finally {
    await view.close();
  }
});

test("a node's heal counters reach the views with its heartbeats, as free space does", async () => {
  const prefix = "regheal2:";
  const config = fast(prefix);
  const view = await startMembershipView(config, { logger });
  let heal: typeof HEAL | undefined;
  const membership = await startNodeMembership(
    config,
    () => ({ ...(record("node-h") as unknown as NodeRecordInput), heal }),
    { logger, probe: async () => true },
  );
  try {
    const first = await waitFor(() => view.live().find((n) => n.id === "node-h"), 3000, "node-h in the view");
    assert.equal(first.heal, undefined, "no counters before healing starts");
    heal = { ...HEAL, quarantined: 9 };
    await waitFor(() => view.live().find((n) => n.heal?.quarantined === 9), 3000, "counters in the view");
    assert.deepEqual((await stored(prefix, "node-h"))?.heal, heal);
  } finally {
    await membership.close();
    await view.close();
  }
});

test("a registry client that ends comes back by itself (the end handler)", async () => {
  const redis = createRedis(registry.topology.redisConfig(), logger);
  try {
    await redis.client.set("end:probe", "1");
    // disconnect() ends a client for good in ioredis; only our close() may do that.
    redis.client.disconnect();
    await waitFor(() => redis.client.status === "end", 1000, "the client to end");
    await waitFor(() => redis.client.status === "ready", 3000, "the client to reconnect");
    assert.equal(await redis.client.get("end:probe"), "1");
  } finally {
    await redis.close();
  }
  assert.equal(redis.client.status, "end");
});

test("a plain Redis URL works too (development)", async () => {
  const master = await registry.topology.master();
  const config = fast("url:", { sentinelAddrs: [], url: `redis://127.0.0.1:${master.port}` });
  const view = await startMembershipView(config, { logger });
  const a = await startMember(config, "node-a");
  try {
    await waitFor(() => view.live().some((n) => n.id === "node-a"), 3000, "node-a in the view");
    assert.equal((await stored("url:", "node-a"))?.incarnation, a.membership.incarnation);
  } finally {
    await a.close();
    await view.close();
  }
});

test("startMembershipView fails with DFS_ERR_REGISTRY when no Sentinel answers", async () => {
  const config = registry.topology.redisConfig({ sentinelAddrs: ["127.0.0.1:1", "127.0.0.1:2"] });
  await assert.rejects(startMembershipView(config, { logger, startTimeoutMs: 500 }), (err: unknown) =>
    isDfsError(err, "DFS_ERR_REGISTRY"),
  );
});

test("dfs nodes prints the registered nodes as a table and as JSON", async () => {
  const prefix = "reg6:";
  const config = fast(prefix, { heartbeatTtlMs: 10_000 });
  const a = await startMember(config, "node-a", { zone: "eu-1" });
  await registry.db.client
    .multi()
    .sadd(`${prefix}members`, "node-old")
    .set(
      `${prefix}node:node-old`,
      JSON.stringify({
        id: "node-old",
        addr: "127.0.0.1:9",
        zone: "eu-2",
        capacityBytes: 2 * 1024 ** 3,
        freeBytes: 1024 ** 3,
        version: "v",
        startedAt: 1,
        incarnation: 3,
        lastHeartbeat: Date.now() - 30_000,
        heartbeatTtlMs: 10_000,
      }),
    )
    .exec();
  const args = [
    CLI,
    "nodes",
    "--sentinels",
    config.sentinelAddrs.join(","),
    "--master-name",
    config.masterName,
    "--redis-prefix",
    prefix,
  ];
  try {
    const run = promisify(execFile);
    const table = (await run(process.execPath, args)).stdout;
    const lines = table.trimEnd().split("\n");
    assert.match(lines[0]!, /^ID\s+ADDRESS\s+ZONE\s+FREE\/CAPACITY\s+HEARTBEAT\s+STATE$/);
    assert.equal(lines.length, 3, table);
    assert.match(
      lines[1]!,
      new RegExp(`^node-a\\s+${a.addr}\\s+eu-1\\s+1000 B / 9\\.8 KiB\\s+\\d+\\.\\ds ago\\s+live$`),
    );
    assert.match(
      lines[2]!,
      // Its heartbeat is 30 s old when the CLI starts; a loaded machine may take seconds to start it.
      /^node-old\s+127\.0\.0\.1:9\s+eu-2\s+1\.0 GiB \/ 2\.0 GiB\s+(29|3\d|4\d)\.\ds ago\s+expired$/,
    );

    const json = JSON.parse((await run(process.execPath, [...args, "--json"])).stdout) as NodeInfo[];
    assert.deepEqual(
      json.map((n) => [n.id, n.state, n.incarnation === a.membership.incarnation || n.incarnation === 3]),
      [
        ["node-a", "live", true],
        ["node-old", "expired", true],
      ],
    );

    const bad = await run(process.execPath, [CLI, "nodes", "--bogus"]).catch(
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal((bad as { code: number }).code, 2);
  } finally {
    await a.close();
  }
});
