/**
 * Access keys kept in the cluster, against two real `dfs gateway` processes over one cluster: a
 * key created through one works through the other at once, a deleted one stops everywhere within
 * the cache TTL, grants decide what a key may do, and `dfs key` drives it all.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ACCESS_CACHE_TTL_MS } from "../src/access/index.ts";
import { patternBytes } from "./helpers/data.ts";
import { type Cluster, http, startCluster, startGatewayProcess, waitLive } from "./helpers/gateway.ts";
import { CLI, type Proc } from "./helpers/proc.ts";

const ADMIN = "admin-secret-0123456789abcdef";
const admin = { authorization: `Bearer ${ADMIN}` };
const json = { "content-type": "application/json" };

let cluster: Cluster;
let a: { url: string; proc: Proc; stop(): Promise<void> };
let b: { url: string; proc: Proc; stop(): Promise<void> };

before(async () => {
  cluster = await startCluster(3, "gwaccess:");
  [a, b] = await Promise.all([
    startGatewayProcess(cluster, ["--api-keys", ADMIN]),
    startGatewayProcess(cluster, ["--api-keys", ADMIN]),
  ]);
  await Promise.all([waitLive(a.url, 3, admin), waitLive(b.url, 3, admin)]);
});

after(async () => {
  await a?.stop();
  await b?.stop();
  await cluster?.stop();
});

interface Created {
  id: string;
  secret: string;
  name: string;
  grants: unknown[];
}

async function createKey(url: string, name: string): Promise<Created> {
  const r = await http(url, "POST", "/v1/keys", {
    headers: { ...admin, ...json },
    body: JSON.stringify({ name }),
  });
  assert.equal(r.status, 201);
  return r.json as Created;
}

async function allow(url: string, id: string, grant: object, headers: Record<string, string> = admin) {
  return http(url, "PUT", `/v1/keys/${id}/grants`, {
    headers: { ...headers, ...json },
    body: JSON.stringify(grant),
  });
}

const as = (k: Created) => ({ authorization: `Bearer ${k.id}:${k.secret}` });
const codeOf = (r: { json: unknown }) => (r.json as { code?: string } | undefined)?.code;

describe("access keys across gateways", () => {
  test("a key created and granted through one gateway works through another at once", async () => {
    const key = await createKey(a.url, "uploader");
    assert.match(key.id, /^DK[A-Z0-9]{18}$/);
    assert.equal(key.secret.length, 40);
    assert.deepEqual(key.grants, []);
    const granted = await allow(a.url, key.id, { bucket: "*", read: true, write: true });
    assert.equal(granted.status, 200);
    assert.equal((granted.json as { secret?: string }).secret, undefined, "the secret is shown once");
    const body = patternBytes(3000, 11);
    const up = await http(b.url, "PUT", "/v1/files", { body, headers: as(key) });
    assert.equal(up.status, 201);
    const hash = (up.json as { hash: string }).hash;
    const down = await http(a.url, "GET", `/v1/files/${hash}`, { headers: as(key) });
    assert.equal(down.status, 200);
    assert.deepEqual(down.body, body);
    const listed = await http(b.url, "GET", "/v1/keys", { headers: admin });
    const keys = (listed.json as { keys: Created[] }).keys;
    assert.ok(keys.some((k) => k.id === key.id && k.secret === undefined));
    assert.ok(!listed.body.includes(Buffer.from(key.secret)), "a list never shows secrets");
    const got = await http(b.url, "GET", `/v1/keys/${key.id}`, { headers: admin });
    assert.equal((got.json as Created).name, "uploader");
    assert.ok(!got.body.includes(Buffer.from(key.secret)));
  });

  test("a wrong secret, an unknown id and admin routes get 403 with the code", async () => {
    const key = await createKey(a.url, "limited");
    await allow(a.url, key.id, { bucket: "*", read: true, write: true });
    const wrong = { authorization: `Bearer ${key.id}:${"x".repeat(40)}` };
    const r1 = await http(b.url, "PUT", "/v1/files", { body: patternBytes(100, 1), headers: wrong });
    assert.equal(r1.status, 403);
    assert.equal(codeOf(r1), "DFS_ERR_FORBIDDEN");
    const unknown = { authorization: `Bearer DK000000000000000000:${key.secret}` };
    const r2 = await http(b.url, "PUT", "/v1/files", { body: patternBytes(100, 1), headers: unknown });
    assert.equal(r2.status, 403);
    assert.equal(codeOf(r2), "DFS_ERR_FORBIDDEN");
    for (const path of ["/v1/nodes", "/v1/keys", `/v1/keys/${key.id}`]) {
      const r = await http(b.url, "GET", path, { headers: as(key) });
      assert.equal(r.status, 403, path);
      assert.equal(codeOf(r), "DFS_ERR_FORBIDDEN");
    }
    const self = await allow(b.url, key.id, { bucket: "*", read: true, write: true, owner: true }, as(key));
    assert.equal(self.status, 403, "a key cannot raise its own grants");
  });

  test("grants decide: read-only cannot write, no grant gets 403, owners grant within their bucket", async () => {
    const writer = await createKey(a.url, "writer");
    await allow(a.url, writer.id, { bucket: "*", write: true });
    const body = patternBytes(2000, 12);
    const up = await http(a.url, "PUT", "/v1/files", { body, headers: as(writer) });
    assert.equal(up.status, 201);
    const hash = (up.json as { hash: string }).hash;

    const reader = await createKey(a.url, "reader");
    await allow(a.url, reader.id, { bucket: "*", read: true });
    assert.equal((await http(b.url, "GET", `/v1/files/${hash}`, { headers: as(reader) })).status, 200);
    const put = await http(b.url, "PUT", "/v1/files", { body, headers: as(reader) });
    assert.equal(put.status, 403);
    assert.equal(codeOf(put), "DFS_ERR_FORBIDDEN");
    const del = await http(b.url, "DELETE", `/v1/files/${hash}`, { headers: as(reader) });
    assert.equal(del.status, 403);

    const none = await createKey(a.url, "nothing");
    const read = await http(b.url, "GET", `/v1/files/${hash}`, { headers: as(none) });
    assert.equal(read.status, 403, "a key without a grant reads nothing");
    const photos = await createKey(a.url, "photos-owner");
    await allow(a.url, photos.id, { bucket: "photos", read: true, write: true, owner: true });
    const onHash = await http(b.url, "GET", `/v1/files/${hash}`, { headers: as(photos) });
    assert.equal(onHash.status, 403, "the hash API needs a grant on *");

    const byOwner = await allow(b.url, none.id, { bucket: "photos", read: true }, as(photos));
    assert.equal(byOwner.status, 200);
    assert.deepEqual((byOwner.json as Created).grants, [
      { bucket: "photos", read: true, write: false, owner: false },
    ]);
    const elsewhere = await allow(b.url, none.id, { bucket: "logs", read: true }, as(photos));
    assert.equal(elsewhere.status, 403, "an owner grants only within its bucket");
    assert.equal((await allow(a.url, none.id, { bucket: "Bad_Name", read: true })).status, 400);
    assert.equal((await allow(a.url, "DK000000000000000000", { bucket: "photos", read: true })).status, 404);
  });

  test("a deleted key stops working on every gateway within the TTL", async () => {
    const key = await createKey(a.url, "doomed");
    await allow(a.url, key.id, { bucket: "*", read: true, write: true });
    const use = (url: string) =>
      http(url, "PUT", "/v1/files", { body: patternBytes(500, 13), headers: as(key) });
    assert.ok([200, 201].includes((await use(b.url)).status), "b has it cached");
    const deleted = await http(a.url, "DELETE", `/v1/keys/${key.id}`, { headers: admin });
    assert.equal(deleted.status, 204);
    const at = Date.now();
    assert.equal((await use(a.url)).status, 403, "the gateway that deleted it refuses it at once");
    let refused = false;
    while (Date.now() - at < ACCESS_CACHE_TTL_MS + 1500) {
      if ((await use(b.url)).status === 403) {
        refused = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(refused, `b still accepted the key ${Date.now() - at} ms after its deletion`);
    assert.equal((await http(a.url, "DELETE", `/v1/keys/${key.id}`, { headers: admin })).status, 404);
    assert.equal((await http(b.url, "GET", `/v1/keys/${key.id}`, { headers: admin })).status, 404);
  });

  test("the configured API key keeps working; without one, key routes need it", async () => {
    assert.equal((await http(b.url, "GET", "/v1/keys", { headers: admin })).status, 200);
    const anon = await http(b.url, "GET", "/v1/keys");
    assert.equal(anon.status, 401);
    assert.equal(codeOf(anon), "DFS_ERR_UNAUTHORIZED");
    const bad = await http(a.url, "POST", "/v1/keys", {
      headers: { ...admin, ...json },
      body: '{"name":"a b"}',
    });
    assert.equal(bad.status, 400);
  });
});

describe("dfs key", () => {
  const dfs = async (args: string[], key = ADMIN) => {
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [CLI, "key", ...args, "--gateway", a.url, "--api-key", key],
        { encoding: "utf8", env: { PATH: process.env.PATH } },
      );
      return { code: 0, out: stdout };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, out: e.stderr };
    }
  };

  test("create prints the id and secret, list does not print secrets, allow and delete work", async () => {
    const created = await dfs(["create", "from-cli"]);
    assert.equal(created.code, 0, created.out);
    const id = /id\s+(DK[A-Z0-9]{18})/.exec(created.out)?.[1];
    const secret = /secret\s+(\S{40})/.exec(created.out)?.[1];
    assert.ok(id && secret, created.out);
    const allowed = await dfs(["allow", id, "*", "--read", "--write"]);
    assert.equal(allowed.code, 0, allowed.out);
    assert.match(allowed.out, /\*:rw/);
    const listed = await dfs(["list"]);
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, new RegExp(`${id}\\s+from-cli\\s+\\*:rw`));
    assert.ok(!listed.out.includes(secret), "list does not print secrets");
    const asJson = await dfs(["list", "--json"]);
    assert.ok(!asJson.out.includes(secret));
    const up = await http(b.url, "PUT", "/v1/files", {
      body: patternBytes(700, 14),
      headers: { authorization: `Bearer ${id}:${secret}` },
    });
    assert.equal(up.status, 201, "the key the CLI made works through another gateway");
    const asKey = await dfs(["list"], `${id}:${secret}`);
    assert.equal(asKey.code, 1);
    assert.match(asKey.out, /DFS_ERR_FORBIDDEN/);
    assert.equal((await dfs(["delete", id])).code, 0);
    const again = await dfs(["delete", id]);
    assert.equal(again.code, 1);
    assert.match(again.out, /DFS_ERR_NOT_FOUND/);
    const usage = await dfs(["frobnicate"]);
    assert.equal(usage.code, 2);
  });
});

describe("without a quorum of nodes (last: it stops two of them)", () => {
  test("key routes and a key not yet cached answer 503 with the quorum codes", async () => {
    const key = await createKey(a.url, "before-the-loss");
    await Promise.all(cluster.nodes.slice(1).map((n) => n.stop("SIGKILL")));
    const create = await http(b.url, "POST", "/v1/keys", {
      headers: { ...admin, ...json },
      body: JSON.stringify({ name: "during-the-loss" }),
    });
    assert.equal(create.status, 503);
    assert.ok(
      ["DFS_ERR_INSUFFICIENT_REPLICAS", "DFS_ERR_UNAVAILABLE"].includes(codeOf(create)!),
      codeOf(create),
    );
    const use = await http(b.url, "GET", "/v1/files/".concat("0".repeat(64)), { headers: as(key) });
    assert.equal(use.status, 503, "b never read this key: it cannot tell, so it does not guess");
    assert.equal(codeOf(use), "DFS_ERR_UNAVAILABLE");
    const list = await http(b.url, "GET", "/v1/keys", { headers: admin });
    assert.equal(list.status, 503);
  });
});
