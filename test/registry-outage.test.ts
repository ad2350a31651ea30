/**
 * Redis partly or wholly away (one topology for the file): with one Sentinel down everything still
 * works; with every Redis and Sentinel process down for ~10 s, views keep the last membership and
 * say they are stale, and when Redis comes back (empty: no persistence) the nodes re-register by
 * themselves and the views recover, without any node ever leaving a view.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { RegistryConfig } from "../src/config/index.ts";
import { type MembershipView, startMembershipView } from "../src/registry/index.ts";
import { startTopology, type Topology } from "./helpers/redis-topology.ts";
import { type Member, startMember, testLogger, waitFor } from "./helpers/registry.ts";

const logger = testLogger();
let topology: Topology;

before(async () => {
  topology = await startTopology();
});

after(async () => {
  await topology?.stopAll();
});

test("with one Sentinel down, nodes register, heartbeat and are seen", async () => {
  const config = topology.redisConfig({ prefix: "one:", heartbeatIntervalMs: 200, resyncIntervalMs: 500 });
  // The first Sentinel of the list, the one every client asks first.
  const down = topology.sentinels[0]!;
  await topology.stop(down.port);
  const members: Member[] = [];
  let view: MembershipView | undefined;
  try {
    await topology.waitHealthy();
    view = await startMembershipView(config, { logger });
    members.push(await startMember(config, "node-1"), await startMember(config, "node-2"));
    await waitFor(() => view!.live().length === 2, 3000, "both nodes in the view");
    const beats = members[0]!.beats.length;
    await waitFor(() => members[0]!.beats.length >= beats + 3, 3000, "heartbeats continuing");
    await members[1]!.close();
    members.pop();
    await waitFor(
      () => view!.live().length === 1 && members[0]!.membership.view.live().length === 1,
      3000,
      "deregistration seen",
    );
    assert.equal(view.stale, false);
  } finally {
    await Promise.all(members.map((m) => m.close()));
    await view?.close();
    await topology.restart(down.port);
  }
  await topology.waitHealthy();
});

test("Redis entirely down for ~10 s: views stay and report stale, nodes re-register by themselves", async (t) => {
  const config: RegistryConfig = topology.redisConfig({
    prefix: "out:",
    heartbeatIntervalMs: 500,
    heartbeatTtlMs: 6000,
    resyncIntervalMs: 1000,
  });
  const ids = ["node-1", "node-2", "node-3"];
  const members = await Promise.all(ids.map((id) => startMember(config, id)));
  const gateway = await startMembershipView(config, { logger });
  const views = [gateway, ...members.map((m) => m.membership.view)];
  const leaves: string[] = [];
  const onLeave = (n: { id: string }) => leaves.push(n.id);
  for (const v of views) v.on("leave", onLeave);
  try {
    await waitFor(() => views.every((v) => v.live().length === 3), 5000, "all nodes in all views");
    const master = await topology.master();
    const ports = [...topology.dataPorts].sort((a, b) =>
      a === master.port ? -1 : b === master.port ? 1 : 0,
    );
    // Sentinels first, so none of them fails the master over while the others go down.
    for (const s of topology.sentinels) await topology.stop(s.port);
    for (const p of ports) await topology.stop(p);
    const downAt = performance.now();

    await waitFor(() => views.every((v) => v.stale), 5000, "views to report stale");
    const staleAfter = performance.now() - downAt;
    // The outage lasts ~10 s; meanwhile the last membership is kept, and reported as stale.
    while (performance.now() - downAt < 10_000) {
      for (const v of views) {
        assert.deepEqual(
          v.live().map((n) => n.id),
          ids,
        );
        assert.equal(v.stale, true);
      }
      assert.ok(gateway.ageMs >= performance.now() - downAt - 1500, `ageMs ${gateway.ageMs}`);
      await delay(100);
    }

    // Back, empty (no persistence): data nodes first (master first), then Sentinels.
    for (const p of ports) await topology.restart(p);
    // Empty: clients cannot find it until a Sentinel is back, so nothing wrote to it yet.
    assert.equal(
      await topology.command(master.port, "EXISTS", "out:members"),
      0,
      "Redis came back with data",
    );
    for (const s of topology.sentinels) await topology.restart(s.port);
    const upAt = performance.now();
    await waitFor(
      async () => {
        const registered = (await topology.command(master.port, "SMEMBERS", "out:members")) as string[];
        return registered.length === 3;
      },
      10_000,
      "every node to re-register",
    );
    const registeredAfter = performance.now() - upAt;
    await waitFor(() => views.every((v) => !v.stale && v.live().length === 3), 10_000, "views to recover");
    const recoveredAfter = performance.now() - upAt;
    // Past the reconnect grace, a full resync still sees everyone live.
    const graceOver = () => performance.now() - upAt > config.reconnectGraceMs + config.resyncIntervalMs;
    await waitFor(
      () => graceOver() && views.every((v) => v.ageMs < config.resyncIntervalMs && v.live().length === 3),
      config.reconnectGraceMs + 10_000,
      "a full sync past the reconnect grace",
    );
    t.diagnostic(
      `stale ${Math.round(staleAfter)} ms after the outage began; after restart: re-registered in ` +
        `${Math.round(registeredAfter)} ms, views fresh in ${Math.round(recoveredAfter)} ms`,
    );
    assert.deepEqual(leaves, [], "a node left a view during the outage");
    await topology.waitHealthy();
  } finally {
    for (const v of views) v.off("leave", onLeave);
    await Promise.all(members.map((m) => m.close()));
    await gateway.close();
  }
});
