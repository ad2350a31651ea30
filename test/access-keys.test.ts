import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FastifyRequest } from "fastify";
import {
  ACCESS_CACHE_TTL_MS,
  ACCESS_PARTITION,
  ACCESS_TABLE,
  type AccessKey,
  ClusterAccessKeys,
  canAccess,
  canSee,
  KEY_ID,
  type Principal,
  SECRET_LENGTH,
  withGrant,
} from "../src/access/index.ts";
import { SecretSealer } from "../src/access/seal.ts";
import { isDfsError } from "../src/errors.ts";
import { authorizeBucket, seesBucket } from "../src/gateway/bucket-access.ts";
import { nodesForSuite, testNodeClient } from "./helpers/cluster.ts";
import { heldBy, tableClient } from "./helpers/tables.ts";

const CLUSTER_KEY = Buffer.alloc(32, 0x5f);
const grant = (bucket: string, read: boolean, write: boolean, owner: boolean) => ({
  bucket,
  read,
  write,
  owner,
});
const keyWith = (grants: AccessKey["grants"]): Principal => ({
  kind: "access-key",
  key: { id: "DKAAAAAAAAAAAAAAAAAA", name: "k", secret: "s".repeat(40), grants, createdMs: 0 },
});

describe("grant rules", () => {
  test("each flag allows its action in its bucket only; '*' covers every bucket", () => {
    const p = keyWith([grant("photos", true, false, false), grant("logs", false, true, true)]);
    assert.equal(canAccess(p, "photos", "read"), true);
    assert.equal(canAccess(p, "photos", "write"), false, "a read-only grant cannot write");
    assert.equal(canAccess(p, "photos", "owner"), false);
    assert.equal(canAccess(p, "logs", "read"), false, "owner does not imply read");
    assert.equal(canAccess(p, "logs", "write"), true);
    assert.equal(canAccess(p, "logs", "owner"), true);
    assert.equal(canAccess(p, "other", "read"), false, "no grant, no access");
    const every = keyWith([grant("*", true, false, false)]);
    assert.equal(canAccess(every, "anything", "read"), true);
    assert.equal(canAccess(every, "anything", "write"), false);
  });

  test("a key sees the buckets it holds a grant on; a configured principal sees all", () => {
    const p = keyWith([grant("photos", true, false, false)]);
    assert.equal(canSee(p, "photos"), true);
    assert.equal(canSee(p, "logs"), false);
    const configured: Principal = { kind: "configured", name: "admin", admin: true };
    assert.equal(canSee(configured, "logs"), true);
    assert.equal(canAccess(configured, "logs", "owner"), true);
  });

  test("a grant replaces the earlier one on its bucket; a grant of nothing removes it", () => {
    let grants = withGrant([], grant("b-two", true, false, false));
    grants = withGrant(grants, grant("a-one", false, true, false));
    grants = withGrant(grants, grant("b-two", true, true, false));
    assert.deepEqual(grants, [grant("a-one", false, true, false), grant("b-two", true, true, false)]);
    assert.deepEqual(withGrant(grants, grant("a-one", false, false, false)), [
      grant("b-two", true, true, false),
    ]);
  });
});

describe("authorizeBucket and seesBucket", () => {
  const req = (principal: Principal | undefined) => ({ principal }) as FastifyRequest;
  const code = (f: () => void) => {
    try {
      f();
      return "ok";
    } catch (e) {
      return isDfsError(e) ? e.code : String(e);
    }
  };

  test("a read-only key cannot write; no grant is 403; no principal is 401; lists show granted buckets", () => {
    const reader = req(keyWith([grant("photos", true, false, false)]));
    assert.equal(
      code(() => authorizeBucket(reader, "photos", "read")),
      "ok",
    );
    assert.equal(
      code(() => authorizeBucket(reader, "photos", "write")),
      "DFS_ERR_FORBIDDEN",
    );
    assert.equal(
      code(() => authorizeBucket(reader, "photos", "owner")),
      "DFS_ERR_FORBIDDEN",
    );
    assert.equal(
      code(() => authorizeBucket(reader, "logs", "read")),
      "DFS_ERR_FORBIDDEN",
    );
    assert.equal(
      code(() => authorizeBucket(req(undefined), "photos", "read")),
      "DFS_ERR_UNAUTHORIZED",
    );
    const configured = req({ kind: "configured", name: "ops", admin: false });
    assert.equal(
      code(() => authorizeBucket(configured, "logs", "owner")),
      "ok",
    );
    assert.deepEqual(
      ["logs", "photos", "videos"].filter((b) => seesBucket(reader, b)),
      ["photos"],
    );
    assert.equal(seesBucket(req(undefined), "photos"), false);
  });
});

describe("sealed secrets", () => {
  test("a secret opens under its id and cluster key only", () => {
    const sealer = new SecretSealer(CLUSTER_KEY);
    const sealed = sealer.seal("DKAAAAAAAAAAAAAAAAAA", "the-secret");
    assert.equal(sealer.open("DKAAAAAAAAAAAAAAAAAA", sealed), "the-secret");
    assert.ok(!sealed.includes(Buffer.from("the-secret")));
    const corrupt = (f: () => unknown) => assert.throws(f, (e) => isDfsError(e, "DFS_ERR_CORRUPT"));
    corrupt(() => sealer.open("DKBBBBBBBBBBBBBBBBBB", sealed));
    corrupt(() => new SecretSealer(Buffer.alloc(32, 1)).open("DKAAAAAAAAAAAAAAAAAA", sealed));
    const flipped = Buffer.from(sealed);
    flipped[20]! ^= 1;
    corrupt(() => sealer.open("DKAAAAAAAAAAAAAAAAAA", flipped));
    corrupt(() => sealer.open("DKAAAAAAAAAAAAAAAAAA", sealed.subarray(0, 10)));
    const bound = sealer.seal("DKAAAAAAAAAAAAAAAAAA", "the-secret", '{"grants":[]}');
    assert.equal(sealer.open("DKAAAAAAAAAAAAAAAAAA", bound, '{"grants":[]}'), "the-secret");
    corrupt(() => sealer.open("DKAAAAAAAAAAAAAAAAAA", bound, '{"grants":["*"]}'));
  });
});

describe("the access key directory over real nodes", () => {
  const suite = nodesForSuite(3);
  const gateway = testNodeClient("gateway", "test-gateway");
  const addrs = () => suite.nodes.map((n) => n.addr);
  /** A directory as one gateway holds it: its own cache, its own clock. */
  const directory = (now: () => number = Date.now) =>
    new ClusterAccessKeys({ tables: tableClient(gateway, addrs), clusterKey: CLUSTER_KEY, now });

  test("a key created through one directory is found through another at once", async () => {
    const a = directory();
    const b = directory();
    const key = await a.create("alice");
    assert.match(key.id, KEY_ID);
    assert.equal(key.secret.length, SECRET_LENGTH);
    assert.deepEqual(key.grants, []);
    assert.deepEqual(await b.lookup(key.id), key);
    assert.ok((await b.list()).some((k) => k.id === key.id && k.secret === key.secret));
    const other = await a.create("alice");
    assert.notEqual(other.id, key.id, "names need not be unique; ids are");
    assert.notEqual(other.secret, key.secret);
  });

  test("allow adds, replaces and removes grants per bucket; bad input loses nothing", async () => {
    const a = directory();
    const key = await a.create("grants");
    await a.allow(key.id, grant("photos", true, false, false));
    const after = await a.allow(key.id, grant("logs", true, true, true));
    assert.deepEqual(after.grants, [grant("logs", true, true, true), grant("photos", true, false, false)]);
    const fresh = await directory().lookup(key.id);
    assert.deepEqual(fresh?.grants, after.grants);
    const removed = await a.allow(key.id, grant("logs", false, false, false));
    assert.deepEqual(removed.grants, [grant("photos", true, false, false)]);
    await assert.rejects(a.allow(key.id, grant("Bad_Name", true, false, false)), (e) =>
      isDfsError(e, "DFS_ERR_BAD_REQUEST"),
    );
    await assert.rejects(a.allow("DKZZZZZZZZZZZZZZZZZZ", grant("photos", true, false, false)), (e) =>
      isDfsError(e, "DFS_ERR_NOT_FOUND"),
    );
    await assert.rejects(a.create("no spaces allowed"), (e) => isDfsError(e, "DFS_ERR_BAD_REQUEST"));
    assert.deepEqual((await directory().lookup(key.id))?.grants, [grant("photos", true, false, false)]);
  });

  test("a deleted key, or a removed grant, is still seen for less than the TTL, then never", async () => {
    let t = 1_000_000;
    const a = directory();
    const b = directory(() => t);
    const key = await a.create("short-lived");
    await a.allow(key.id, grant("photos", true, false, false));
    assert.deepEqual((await b.lookup(key.id))?.grants, [grant("photos", true, false, false)]);
    await a.allow(key.id, grant("photos", false, false, false));
    t += ACCESS_CACHE_TTL_MS - 1;
    assert.deepEqual((await b.lookup(key.id))?.grants, [grant("photos", true, false, false)], "cached");
    t += 1;
    assert.deepEqual((await b.lookup(key.id))?.grants, [], "read again at the TTL");
    assert.equal(await a.remove(key.id), true);
    assert.equal(await a.remove(key.id), false, "removing twice finds nothing the second time");
    assert.equal(await a.lookup(key.id), undefined, "the remover forgets it at once");
    t += ACCESS_CACHE_TTL_MS - 1;
    assert.ok(await b.lookup(key.id), "another gateway may still hold it within the TTL");
    t += 1;
    assert.equal(await b.lookup(key.id), undefined);
    assert.ok(!(await a.list()).some((k) => k.id === key.id));
  });

  test("an absent key is remembered no longer than the TTL; a malformed id is never read", async () => {
    let t = 5_000_000;
    let reads = 0;
    const tables = tableClient(gateway, addrs);
    const counted = {
      read: (...args: Parameters<typeof tables.read>) => {
        reads++;
        return tables.read(...args);
      },
      write: tables.write.bind(tables),
      range: tables.range.bind(tables),
    };
    const b = new ClusterAccessKeys({ tables: counted, clusterKey: CLUSTER_KEY, now: () => t });
    const [one, two] = await Promise.all([
      b.lookup("DK000000000000000000"),
      b.lookup("DK000000000000000000"),
    ]);
    assert.equal(one, undefined);
    assert.equal(two, undefined);
    assert.equal(reads, 1, "concurrent lookups share one quorum read");
    t += ACCESS_CACHE_TTL_MS - 1;
    assert.equal(await b.lookup("DK000000000000000000"), undefined);
    assert.equal(reads, 1, "absent, remembered within the TTL");
    t += 1;
    assert.equal(await b.lookup("DK000000000000000000"), undefined);
    assert.equal(reads, 2, "read again at the TTL");
    assert.equal(await b.lookup("not-an-id"), undefined);
    assert.equal(await b.lookup("DK000000000000000000:x"), undefined);
    assert.equal(reads, 2, "malformed ids are never read");
  });

  test("a lookup read out while this gateway deletes the key does not cache the key again", async () => {
    const tables = tableClient(gateway, addrs);
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reads = 0;
    const gated = {
      read: async (...args: Parameters<typeof tables.read>) => {
        const first = reads++ === 0;
        const record = await tables.read(...args);
        if (first) await gate;
        return record;
      },
      write: tables.write.bind(tables),
      range: tables.range.bind(tables),
    };
    const key = await directory().create("raced");
    const dir = new ClusterAccessKeys({ tables: gated, clusterKey: CLUSTER_KEY });
    const slow = dir.lookup(key.id);
    assert.equal(await dir.remove(key.id), true);
    release();
    assert.equal((await slow)?.id, key.id, "the read found it before the deletion");
    assert.equal(await dir.lookup(key.id), undefined, "the deletion wins in this gateway's cache");
  });

  test("secrets are not stored in clear: the raw record on every node lacks the secret's bytes", async () => {
    const key = await directory().create("sealed");
    let seen = 0;
    for (const addr of addrs()) {
      const raw = await heldBy(gateway, addr, ACCESS_TABLE, ACCESS_PARTITION, Buffer.from(key.id));
      if (raw === undefined) continue;
      seen++;
      assert.ok(raw.value.includes(Buffer.from("sealed")), "the name is readable");
      assert.ok(!raw.value.includes(Buffer.from(key.secret)), "the secret's bytes are not");
      assert.ok(!raw.value.includes(Buffer.from(Buffer.from(key.secret).toString("base64"))));
    }
    assert.ok(seen >= 2, "W owners hold the record");
    const stranger = new ClusterAccessKeys({
      tables: tableClient(gateway, addrs),
      clusterKey: Buffer.alloc(32, 7),
    });
    await assert.rejects(stranger.lookup(key.id), (e) => isDfsError(e, "DFS_ERR_CORRUPT"));
  });

  test("a record altered without the cluster key does not open; list leaves it out, remove removes it", async () => {
    const tables = tableClient(gateway, addrs);
    const corrupted: string[] = [];
    const dir = new ClusterAccessKeys({
      tables,
      clusterKey: CLUSTER_KEY,
      onCorrupt: (id) => corrupted.push(id),
    });
    const key = await dir.create("tampered");
    await dir.allow(key.id, grant("photos", true, false, false));
    const raw = await tables.read(ACCESS_TABLE, ACCESS_PARTITION, Buffer.from(key.id));
    const value = JSON.parse(raw!.value.toString()) as { grants: unknown[] };
    value.grants = [grant("*", true, true, true)];
    await tables.write([
      {
        table: ACCESS_TABLE,
        partitionKey: ACCESS_PARTITION,
        sortKey: Buffer.from(key.id),
        value: Buffer.from(JSON.stringify(value)),
      },
    ]);
    await assert.rejects(directory().lookup(key.id), (e) => isDfsError(e, "DFS_ERR_CORRUPT"));
    assert.ok(!(await dir.list()).some((k) => k.id === key.id));
    assert.deepEqual(corrupted, [key.id]);
    assert.equal(await dir.remove(key.id), true);
    assert.equal(await directory().lookup(key.id), undefined);
  });

  test("without a quorum of owners, lookups and changes fail with the 503 codes", async () => {
    const dead = () => ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"];
    const lonely = new ClusterAccessKeys({ tables: tableClient(gateway, dead), clusterKey: CLUSTER_KEY });
    await assert.rejects(lonely.lookup("DK000000000000000001"), (e) => isDfsError(e, "DFS_ERR_UNAVAILABLE"));
    await assert.rejects(lonely.create("x"), (e) => isDfsError(e, "DFS_ERR_INSUFFICIENT_REPLICAS"));
    await assert.rejects(lonely.list(), (e) => isDfsError(e, "DFS_ERR_UNAVAILABLE"));
  });
});
