/**
 * Sentinel failovers under a live registry (one topology for the file, default registry timings:
 * heartbeat 1 s, TTL 10 s). A SIGKILLed master, then the old master restarted, then a frozen
 * (SIGSTOP) master: no node may leave any view, writes must resume on the new master, and no
 * client may write to the old one.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { RegistryConfig } from "../src/config/index.ts";
import {
  CONNECTION_NAME,
  createRedis,
  type MembershipView,
  type NodeRecord,
  type RegistryRedis,
  startMembershipView,
} from "../src/registry/index.ts";
import { type FakeSentinel, startFakeSentinel } from "./helpers/fake-sentinel.ts";
import { startRedisServer, startTopology, type Topology } from "./helpers/redis-topology.ts";
import { type Member, startMember, testLogger, waitFor } from "./helpers/registry.ts";

const logger = testLogger();
const IDS = ["node-1", "node-2", "node-3"];
let topology: Topology;
let config: RegistryConfig;
let members: Member[] = [];
let gateway: MembershipView;
let writer: RegistryRedis;

before(async () => {
  topology = await startTopology();
  config = topology.redisConfig({ prefix: "fo:" });
  members = await Promise.all(IDS.map((id) => startMember(config, id)));
  gateway = await startMembershipView(config, { logger });
  writer = createRedis(config, logger);
});

after(async () => {
  await Promise.all(members.map((m) => m.close()));
  await gateway?.close();
  await writer?.close();
  await topology?.stopAll();
});

/**
 * Samples every view every 25 ms and counts any moment where one of the three nodes is missing
 * from a view's live set, plus every `leave` event.
 */
function watchViews(): { stop(): { missing: string[]; leaves: string[]; samples: number } } {
  const views = [gateway, ...members.map((m) => m.membership.view)];
  const missing: string[] = [];
  const leaves: string[] = [];
  const onLeave = (n: { id: string }) => leaves.push(n.id);
  for (const v of views) v.on("leave", onLeave);
  let samples = 0;
  // Unref'd, and stopped in finally: a failed assertion must not leave it keeping the test alive.
  const timer = setInterval(() => {
    samples++;
    views.forEach((v, i) => {
      const live = new Set(v.live().map((n) => n.id));
      for (const id of IDS) if (!live.has(id)) missing.push(`view${i}:${id}`);
    });
  }, 25).unref();
  return {
    stop() {
      clearInterval(timer);
      for (const v of views) v.off("leave", onLeave);
      return { missing, leaves, samples };
    },
  };
}

/** The first heartbeat of every member acknowledged after `t`, or undefined if one has none yet. */
function beatsAfter(t: number): { record: NodeRecord; ackAt: number }[] | undefined {
  const firsts = members.map((m) => m.beats.find((b) => b.ackAt > t));
  return firsts.every((b) => b !== undefined) ? firsts : undefined;
}

async function registryClientsOn(port: number): Promise<number> {
  return (await registryClientLines(port)).length;
}

/** CLIENT LIST lines of our registry connections, cut to what tells a failure apart. */
async function registryClientLines(port: number): Promise<string[]> {
  const list = String(await topology.command(port, "CLIENT", "LIST"));
  return list
    .split("\n")
    .filter((l) => l.includes(`name=${CONNECTION_NAME} `))
    .map((l) =>
      l
        .split(" ")
        .filter((f) => /^(id|addr|age|idle|flags|cmd)=/.test(f))
        .join(" "),
    );
}

async function roleOf(port: number): Promise<string> {
  const reply = (await topology.command(port, "ROLE")) as unknown[];
  return String(reply[0]);
}

test("SIGKILL of the master: failover, no node leaves any view, writes resume", async (t) => {
  await topology.waitHealthy();
  const views = watchViews();
  const sentinels = await topology.watchSwitches();
  let writing = true;
  t.after(() => {
    writing = false;
    views.stop();
    sentinels.close();
  });
  // Our own write loop, one SET at a time, to time the first write the new master acknowledges.
  let firstWriteAt: number | undefined;
  let killedAt = Number.POSITIVE_INFINITY;
  const loop = (async () => {
    while (writing) {
      await writer.client.set("fo:probe", String(Date.now()));
      if (performance.now() > killedAt && firstWriteAt === undefined) firstWriteAt = performance.now();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const old = await topology.master();
  killedAt = performance.now();
  topology.signal(old.port, "SIGKILL");
  const beats = await waitFor(
    () => beatsAfter(killedAt),
    15_000,
    "a heartbeat from every node after the kill",
  );
  await waitFor(() => firstWriteAt, 15_000, "first write after the kill");
  writing = false;
  await loop;
  const fresh = await topology.master();
  assert.notEqual(fresh.port, old.port);
  // Views resync against the new master and stop reporting stale.
  await waitFor(
    () => [gateway, ...members.map((m) => m.membership.view)].every((v) => !v.stale),
    10_000,
    "fresh",
  );
  const { missing, leaves, samples } = views.stop();

  const firstBeat = Math.min(...beats.map((b) => b.ackAt)) - killedAt;
  const allBeat = Math.max(...beats.map((b) => b.ackAt)) - killedAt;
  const firstWrite = firstWriteAt! - killedAt;
  t.diagnostic(
    `kill -> first registry heartbeat ${Math.round(firstBeat)} ms, all 3 nodes ${Math.round(allBeat)} ms, ` +
      `first client write ${Math.round(firstWrite)} ms (${samples} view samples)`,
  );
  assert.deepEqual(missing, [], "a live node dropped out of a view during the failover");
  assert.deepEqual(leaves, []);
  // What this code controls is how closely it follows Sentinel: the failover itself takes 2.2-3.2 s
  // here (more with a split vote: +1.2-1.5 s), so the < 5 s target is printed, not asserted.
  const switchAt = sentinels.switches[0]?.at;
  assert.ok(switchAt !== undefined, "no +switch-master seen");
  const lag = Math.min(...beats.map((b) => b.ackAt)) - switchAt;
  t.diagnostic(
    `+switch-master ${Math.round(switchAt - killedAt)} ms after the kill; first heartbeat ${Math.round(lag)} ms ` +
      `after it; kill -> first heartbeat ${Math.round(firstBeat)} ms (target < 5000: ${firstBeat < 5000 ? "met" : "MISSED"})`,
  );
  assert.ok(lag < 1000, `first heartbeat ${Math.round(lag)} ms after +switch-master`);
  assert.ok(firstBeat < 8000, `first heartbeat ${Math.round(firstBeat)} ms after the kill`);
  // Every heartbeat since is on the new master, in full.
  for (const m of members) {
    const entry = JSON.parse(
      (await topology.command(fresh.port, "GET", `fo:node:${m.id}`)) as string,
    ) as NodeRecord;
    assert.equal(entry.incarnation, m.membership.incarnation);
  }

  // The old master restarts empty and stays a master for ~10 s until Sentinel converts it. No
  // registry client may connect to it, and no registry key may appear on it, meanwhile.
  await waitFor(() => topology.pid(old.port) === undefined, 5000, "the killed master to exit");
  await topology.restart(old.port);
  const restartedAt = performance.now();
  let checks = 0;
  await waitFor(
    async () => {
      if ((await roleOf(old.port)) !== "master") return true;
      checks++;
      const clients = await registryClientLines(old.port);
      const keys = await topology.command(old.port, "KEYS", "fo:*");
      // Converted between the first role check and these reads: a replica may hold the keys by
      // replication, and registry clients may connect to it (as to any replica). Judge only reads
      // taken while it was still a master on both sides.
      if ((await roleOf(old.port)) !== "master") return true;
      assert.deepEqual(clients, [], "a registry client connected to the old master");
      assert.deepEqual(keys, [], "registry keys on the old master");
      return false;
    },
    25_000,
    "the old master to become a replica",
  );
  t.diagnostic(`old master became a replica ${Math.round(performance.now() - restartedAt)} ms after restart`);
  assert.ok(checks > 10, `only ${checks} checks while it was a master`);
  await topology.waitHealthy();
  // It now replicates the registry from the new master.
  await waitFor(
    async () => (await topology.command(old.port, "EXISTS", "fo:node:node-1")) === 1,
    5000,
    "replicated",
  );
});

/**
 * A member on its own prefix whose registry goes through three fake Sentinels (fake-sentinel.ts)
 * that first hand out `initial`, heartbeating every 100 ms (three beats in before `body` runs); a
 * second Redis stands by as the "old" master. Stops all of it after `body`.
 */
async function withFakeSentinels(
  prefix: string,
  id: string,
  initial: "real" | "other",
  body: (t: {
    real: { host: string; port: number };
    other: { host: string; port: number };
    fakes: FakeSentinel[];
    member: Member;
    /** Registry keys on `other`. */
    otherKeys: () => Promise<number>;
    /**
     * Disconnects every client of the real master (as Sentinel does when it converts a node) and
     * waits until the clients asked the fakes again and again, or wrote to `other`. Returns when
     * the kill was done.
     */
    sendClientsAsking: () => Promise<number>;
  }) => Promise<void>,
): Promise<void> {
  await topology.waitHealthy();
  const real = await topology.master();
  const otherServer = await startRedisServer();
  const other = { host: "127.0.0.1", port: otherServer.port };
  const fakes = await Promise.all(
    IDS.map(() => startFakeSentinel(topology.masterName, initial === "real" ? real : other)),
  );
  const cfg = topology.redisConfig({
    prefix,
    sentinelAddrs: fakes.map((f) => `127.0.0.1:${f.port}`),
    heartbeatIntervalMs: 100,
  });
  const member = await startMember(cfg, id);
  const lookups = () => fakes.reduce((n, f) => n + f.lookups, 0);
  const otherKeys = async () => Number(await topology.command(other.port, "DBSIZE"));
  const sendClientsAsking = async () => {
    const before = lookups();
    await topology.command(real.port, "CLIENT", "KILL", "TYPE", "normal");
    const killedAt = performance.now();
    await waitFor(
      async () => lookups() >= before + 6 || (await otherKeys()) > 0,
      5000,
      "clients to ask the lagging Sentinels again and again",
    );
    return killedAt;
  };
  try {
    await waitFor(() => member.beats.length >= 3, 3000, "heartbeats on the first master");
    await body({ real, other, fakes, member, otherKeys, sendClientsAsking });
  } finally {
    await member.close();
    await Promise.all(fakes.map((f) => f.close()));
    await otherServer.stop();
  }
}

/** How long after the switch a node may still have sent to the frozen master before its watcher acted. */
const WATCHER_REACTION_MS = 2000;

test("SIGSTOP of the master: clients move to the new master and no heartbeat after the switch is lost", async (t) => {
  await topology.waitHealthy();
  const views = watchViews();
  t.after(() => views.stop());
  const old = await topology.master();
  const stoppedAt = performance.now();
  topology.signal(old.port, "SIGSTOP");
  let resumed = false;
  try {
    const fresh = await waitFor(
      async () => {
        const m = await topology.master();
        return m.port !== old.port ? m : undefined;
      },
      20_000,
      "Sentinel to switch master",
    );
    const switchSeenAt = performance.now();
    const switchWall = Date.now();
    const beats = await waitFor(
      () => beatsAfter(switchSeenAt),
      10_000,
      "a heartbeat from every node after the switch",
    );
    t.diagnostic(
      `SIGSTOP -> switch seen ${Math.round(switchSeenAt - stoppedAt)} ms, ` +
        `all nodes writing again ${Math.round(Math.max(...beats.map((b) => b.ackAt)) - stoppedAt)} ms`,
    );

    // The old master resumes: it is still a master for ~10 s and would take writes. The watcher
    // destroyed our sockets to it, so its registry connections go away and none come back.
    topology.signal(old.port, "SIGCONT");
    resumed = true;
    await waitFor(
      async () => (await registryClientsOn(old.port)) === 0,
      3000,
      "old registry connections to close",
    );

    let checks = 0;
    await waitFor(
      async () => {
        // Read-your-acks: every heartbeat acknowledged so far is on the new master.
        const acked = members.map((m) => m.beats.at(-1)!.record.lastHeartbeat);
        for (const [i, m] of members.entries()) {
          const text = (await topology.command(fresh.port, "GET", `fo:node:${m.id}`)) as string;
          const onNew = JSON.parse(text) as NodeRecord;
          assert.ok(
            onNew.lastHeartbeat >= acked[i]!,
            `${m.id}: acknowledged heartbeat ${acked[i]} missing on the new master (has ${onNew.lastHeartbeat})`,
          );
        }
        if ((await roleOf(old.port)) !== "master") return true;
        checks++;
        assert.equal(await registryClientsOn(old.port), 0, "a registry client reconnected to the old master");
        for (const m of members) {
          const text = (await topology.command(old.port, "GET", `fo:node:${m.id}`)) as string | null;
          const onOld = text === null ? undefined : (JSON.parse(text) as NodeRecord);
          // Sentinel may have converted it between the role check and this read: a replica holds the
          // new master's (current) heartbeats by replication, which is not a write to the zombie.
          if ((await roleOf(old.port)) !== "master") return true;
          // Bytes a client sent before its watcher reacted sit in the frozen master's receive buffer
          // and run when it resumes; they were never acknowledged (the client resends them to the new
          // master). What must not happen is a client that keeps writing there: the zombie window
          // lasts ~10 s, so anything past the watcher's reaction time (well under 2 s) is the bug.
          assert.ok(
            onOld === undefined || onOld.lastHeartbeat < switchWall + WATCHER_REACTION_MS,
            `${m.id}: a heartbeat from ${(onOld?.lastHeartbeat ?? 0) - switchWall} ms after the switch landed on the old master`,
          );
        }
        return false;
      },
      25_000,
      "the old master to become a replica",
    );
    assert.ok(checks > 10, `only ${checks} checks while the old master was a master`);
    const { missing, leaves } = views.stop();
    assert.deepEqual(missing, [], "a live node dropped out of a view");
    assert.deepEqual(leaves, []);
  } finally {
    if (!resumed) topology.signal(old.port, "SIGCONT");
  }
});

test("regression: a client that reaches the old master through a lagging Sentinel is sent away before it writes", async () => {
  // ioredis asks the next Sentinel in turn on every reconnect. One that has not caught up with a
  // failover hands out the old master; if that happens after the last +switch-master went by, the
  // client sits on the (frozen) old master and, once it resumes, writes there. Here three fake
  // Sentinels hand out a "zombie" master while `SENTINEL master` (epoch 7) names the real one.
  await withFakeSentinels(
    "zz:",
    "node-z",
    "real",
    async ({ real, other: zombie, fakes, member, otherKeys: zombieKeys, sendClientsAsking }) => {
      for (const f of fakes) f.resolveTo = zombie;
      const killedAt = await sendClientsAsking();
      assert.equal(await zombieKeys(), 0, "registry keys were written to the zombie (the old master)");
      const truthAt = performance.now();
      for (const f of fakes) f.resolveTo = real;
      assert.deepEqual(
        member.beats
          .filter((b) => b.ackAt > killedAt && b.ackAt < truthAt)
          .map((b) => b.record.lastHeartbeat),
        [],
        "a heartbeat was acknowledged while only the zombie was handed out",
      );
      await waitFor(
        () => member.beats.some((b) => b.ackAt > truthAt),
        5000,
        "heartbeats to resume on the real master",
      );
      assert.equal(await zombieKeys(), 0, "registry keys were written to the zombie (the old master)");
      // Read-your-acks: the last heartbeat acknowledged before the read is on the real master (one
      // acknowledged while the GET is on its way may be newer than what it reads).
      const acked = member.beats.at(-1)!.record.lastHeartbeat;
      const entry = JSON.parse(
        (await topology.command(real.port, "GET", "zz:node:node-z")) as string,
      ) as NodeRecord;
      assert.ok(entry.lastHeartbeat >= acked, `${entry.lastHeartbeat} < acknowledged ${acked}`);
    },
  );
});

test("regression: a Sentinel answer that only laggards give does not undo a switch", async () => {
  // Right after a failover only the leader Sentinel has the new config-epoch. If it is too slow to
  // answer the watcher's confirming query, the others still name the old master; taking that
  // answer sent clients back to the old master, where they wrote heartbeats until Sentinel
  // converted it. Here the leader publishes the switch and then goes mute.
  await withFakeSentinels(
    "zw:",
    "node-w",
    "other",
    async ({ real, other: old, fakes, member, otherKeys: oldKeys, sendClientsAsking }) => {
      const [leader] = fakes;
      leader!.truth = real;
      leader!.epoch = 8;
      leader!.mute = true;
      for (const f of fakes) f.resolveTo = real;
      leader!.publishSwitch(old, real);
      const switchedAt = performance.now();
      await topology.command(old.port, "CLIENT", "KILL", "TYPE", "normal");
      await waitFor(
        () => member.beats.some((b) => b.ackAt > switchedAt),
        5000,
        "heartbeats on the new master",
      );
      // The watcher's confirming query gets only the laggards' answer once it gives up on the leader.
      await waitFor(() => leader!.unanswered > 0, 5000, "a confirming query to give up on the leader");
      await topology.command(old.port, "FLUSHALL");
      // The laggards hand out the old master again, and every client has to ask them.
      for (const f of fakes) f.resolveTo = old;
      await sendClientsAsking();
      assert.equal(await oldKeys(), 0, "registry keys were written to the old master after the switch");
      leader!.mute = false;
      for (const f of fakes) f.resolveTo = real;
      const truthAt = performance.now();
      await waitFor(() => member.beats.some((b) => b.ackAt > truthAt), 5000, "heartbeats on the new master");
      assert.equal(await oldKeys(), 0, "registry keys were written to the old master after the switch");
    },
  );
});
