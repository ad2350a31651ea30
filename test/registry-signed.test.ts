/**
 * Signed registry records against a real Redis Sentinel topology: a node's record carries its
 * credential and signature; views with the authority's key ignore (and count) records that are
 * unsigned, signed by someone else, altered, or claim more than the bounds allow, and do not count
 * a heartbeat key without a TTL (or with a longer one) as live.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import {
  type Identity,
  issueIdentity,
  newSeed,
  type Role,
  signingKeyFromSeed,
  TrustAnchor,
} from "../src/credentials/index.ts";
import { type MembershipView, type NodeRecord, startMembershipView } from "../src/registry/index.ts";
import { encodeRecord } from "../src/registry/keys.ts";
import { MAX_CAPACITY_BYTES, signRecord } from "../src/registry/record-signature.ts";
import { CLI } from "./helpers/proc.ts";
import { startMember, testLogger, useRegistryTopology, waitFor } from "./helpers/registry.ts";

const logger = testLogger();
const authoritySeed = newSeed();
const authority = signingKeyFromSeed(authoritySeed);
const anchor = new TrustAnchor(authority.publicKey);
const registry = useRegistryTopology(logger, { resyncIntervalMs: 300 });
const { fast } = registry;

function identity(role: Role, id: string, seed = authoritySeed): Identity {
  return issueIdentity(signingKeyFromSeed(seed), role, id, Date.now(), 3_600_000).identity;
}

function record(id: string, fields: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    addr: `127.0.0.1:${40_000 + (id.length % 1000)}`,
    zone: "z1",
    capacityBytes: 10_000,
    freeBytes: 1000,
    version: "test",
    startedAt: Date.now(),
    incarnation: 1,
    lastHeartbeat: Date.now(),
    heartbeatTtlMs: 5000,
    ...fields,
  };
}

/** Writes an entry straight into Redis, as anyone who can write to it could. */
async function plant(
  prefix: string,
  r: NodeRecord | string,
  hbTtlMs: number | "none" = 60_000,
): Promise<void> {
  const id = typeof r === "string" ? JSON.parse(r).id : r.id;
  const text = typeof r === "string" ? r : encodeRecord(r);
  const tx = registry.db.client.multi().sadd(`${prefix}members`, id).set(`${prefix}node:${id}`, text);
  if (hbTtlMs === "none") tx.set(`${prefix}hb:${id}`, "1");
  else tx.set(`${prefix}hb:${id}`, "1", "PX", hbTtlMs);
  await tx.publish(`${prefix}events`, id).exec();
}

/** Rewrites a planted entry's heartbeat key every 300 ms so it stays present; returns a stopper. */
function keepBeating(prefix: string, ids: string[], ttlMs: number | "none"): () => void {
  const timer = setInterval(() => {
    for (const id of ids) {
      if (ttlMs === "none") void registry.db.client.set(`${prefix}hb:${id}`, "1");
      else void registry.db.client.set(`${prefix}hb:${id}`, "1", "PX", ttlMs);
    }
  }, 300);
  return () => clearInterval(timer);
}

async function settle(view: MembershipView, rejectedAtLeast: number): Promise<void> {
  await waitFor(() => view.rejected >= rejectedAtLeast, 5000, `${rejectedAtLeast} rejected records`);
}

test("a node's record carries its credential and signature, and a checking view takes it", async () => {
  const prefix = "sig1:";
  const config = fast(prefix);
  const view = await startMembershipView(config, { logger, anchor });
  const a = await startMember(config, "node-a", { identity: identity("node", "node-a"), anchor });
  try {
    const stored = JSON.parse((await registry.db.client.get(`${prefix}node:node-a`))!) as NodeRecord;
    assert.ok(stored.credential && stored.signature, "credential and signature stored");
    await waitFor(() => view.live().some((n) => n.id === "node-a"), 3000, "node-a live");
    assert.equal(view.rejected, 0);
    assert.equal("credential" in view.live()[0]!, false, "the credential is not part of NodeInfo");
  } finally {
    await a.close();
    await view.close();
  }
});

test("records without a valid signature are ignored by checking views, nodes' included", async () => {
  const prefix = "sig2:";
  const config = fast(prefix, { heartbeatTtlMs: 5000 });
  const checking = await startMembershipView(config, { logger, anchor });
  const unchecked = await startMembershipView(config, { logger });
  const a = await startMember(config, "node-a", { identity: identity("node", "node-a"), anchor });
  const forged: NodeRecord[] = [
    record("unsigned"),
    // Signed, but by the holder of another node's credential.
    signRecord(identity("node", "someone-else"), record("wrong-id")),
    // A gateway's credential is not a node's.
    signRecord(identity("gateway", "gw-role"), record("gw-role")),
    // Issued by another authority.
    signRecord(identity("node", "foreign", newSeed()), record("foreign")),
  ];
  // Signed, then altered: a bigger capacity to win placement.
  const altered = signRecord(identity("node", "altered"), record("altered"));
  const stopBeating = keepBeating(prefix, [...forged.map((r) => r.id), "altered"], 5000);
  try {
    for (const r of forged) await plant(prefix, r, 5000);
    await plant(prefix, JSON.stringify({ ...altered, capacityBytes: 9_000_000 }), 5000);
    // The unchecked view shows the test could fail: it takes every planted record.
    await waitFor(() => unchecked.live().length === 6, 5000, "the unchecked view takes them all");
    await settle(checking, 5);
    assert.deepEqual(
      checking.all().map((n) => n.id),
      ["node-a"],
    );
    // The node's own view (a checking one) ignores them too: its peers are the real nodes only.
    await waitFor(() => a.membership.view.rejected >= 5, 5000, "the node's view refuses them");
    assert.deepEqual(
      a.membership.view.all().map((n) => n.id),
      ["node-a"],
    );
  } finally {
    stopBeating();
    await a.close();
    await checking.close();
    await unchecked.close();
  }
});

test("signed records past the bounds are refused; a heartbeat key without a TTL is not live", async () => {
  const prefix = "sig3:";
  const config = fast(prefix, { heartbeatTtlMs: 5000, maxHeartbeatTtlMs: 10_000 });
  const view = await startMembershipView(config, { logger, anchor });
  const sign = (r: NodeRecord) => signRecord(identity("node", r.id), r);
  const stopBeating = keepBeating(prefix, ["huge", "overfull", "long-ttl", "ok"], 5000);
  try {
    await plant(prefix, sign(record("huge", { capacityBytes: MAX_CAPACITY_BYTES * 2, freeBytes: 0 })), 5000);
    await plant(prefix, sign(record("overfull", { capacityBytes: 10, freeBytes: 11 })), 5000);
    await plant(prefix, sign(record("long-ttl", { heartbeatTtlMs: 20_000 })), 5000);
    await plant(prefix, sign(record("ok", { heartbeatTtlMs: 5000 })), 5000);
    await settle(view, 3);
    await waitFor(() => view.live().some((n) => n.id === "ok"), 5000, "ok live");
    assert.deepEqual(
      view.all().map((n) => n.id),
      ["ok"],
    );

    // The same valid record, its heartbeat key set without a TTL: registered, never live.
    stopBeating();
    await registry.db.client.persist(`${prefix}hb:ok`);
    await waitFor(() => view.all().find((n) => n.id === "ok")?.state === "expired", 5000, "no TTL: expired");
    // And with a TTL longer than the record states.
    await registry.db.client.set(`${prefix}hb:ok`, "1", "PX", 60_000);
    await new Promise((r) => setTimeout(r, 3 * config.resyncIntervalMs));
    assert.equal(view.all().find((n) => n.id === "ok")?.state, "expired");
    // Set as the node would: live again.
    await registry.db.client.set(`${prefix}hb:ok`, "1", "PX", 5000);
    await waitFor(() => view.live().some((n) => n.id === "ok"), 5000, "ok live again");
  } finally {
    stopBeating();
    await view.close();
  }
});

test("a view keeps at most maxMembers nodes; the ones past it are ignored and counted", async () => {
  const prefix = "sig4:";
  const config = fast(prefix, { heartbeatTtlMs: 5000, maxMembers: 3 });
  const view = await startMembershipView(config, { logger, anchor });
  const ids = ["m1", "m2", "m3", "m4", "m5"];
  const stopBeating = keepBeating(prefix, ids, 5000);
  try {
    for (const id of ids) await plant(prefix, signRecord(identity("node", id), record(id)), 5000);
    await waitFor(() => view.rejected >= 2 && view.live().length === 3, 5000, "three members kept");
    assert.equal(view.all().length, 3);
  } finally {
    stopBeating();
    await view.close();
  }
});

test("dfs nodes checks records with the authority's public key alone", async () => {
  const prefix = "sig5:";
  const config = fast(prefix, { heartbeatTtlMs: 5000 });
  const a = await startMember(config, "node-a", { identity: identity("node", "node-a"), anchor });
  const stopBeating = keepBeating(prefix, ["intruder"], 5000);
  try {
    await plant(prefix, record("intruder"), 5000);
    const sentinels = config.sentinelAddrs.join(",");
    const run = (env: NodeJS.ProcessEnv) =>
      promisify(execFile)(process.execPath, [CLI, "nodes", "--json"], {
        env: {
          ...process.env,
          DFS_SENTINELS: sentinels,
          DFS_MASTER_NAME: config.masterName,
          DFS_REDIS_PREFIX: prefix,
          ...env,
        },
      });
    const checked = await run({ DFS_AUTHORITY_PUBLIC_KEY: authority.publicKey.toString("hex") });
    assert.deepEqual(
      (JSON.parse(checked.stdout) as { id: string }[]).map((n) => n.id),
      ["node-a"],
    );
    assert.match(checked.stderr, /ignoring a node record/);
    const unchecked = await run({});
    assert.deepEqual((JSON.parse(unchecked.stdout) as { id: string }[]).map((n) => n.id).sort(), [
      "intruder",
      "node-a",
    ]);
  } finally {
    stopBeating();
    await a.close();
  }
});
