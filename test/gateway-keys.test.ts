/**
 * Who gets in, against real `dfs gateway` processes: fail closed off loopback, keys with
 * permissions, keys rotated without a restart, admin-only operations, and what a re-upload answers.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { TEST_AUTHORITY_KEY, TEST_SECRET } from "./helpers/cluster.ts";
import { patternBytes } from "./helpers/data.ts";
import {
  type Cluster,
  http,
  startCluster,
  startGatewayProcess,
  TEST_KEY,
  waitFor,
  waitLive,
} from "./helpers/gateway.ts";
import { CLI, type Proc, startProcess } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const WRITER = "writer-secret-0123456789";
const WRITER_NEW = "writer-rotated-9876543210";
const DELETER = "deleter-secret-0123456789";
const OPS = "ops-admin-secret-0123456789";

let cluster: Cluster;
let tmp: { path: string; remove(): Promise<void> };
let keysFile: string;
let gw: { url: string; proc: Proc; stop(): Promise<void> };

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Replaces the keys file the way the README says: write beside it, rename over. */
async function writeKeys(lines: string[]): Promise<void> {
  const next = `${keysFile}.next`;
  await writeFile(next, `${lines.join("\n")}\n`);
  await rename(next, keysFile);
}

before(async () => {
  cluster = await startCluster(3, "gwkeys:");
  tmp = await makeTempDir("dfs-keys-");
  keysFile = join(tmp.path, "api-keys");
  await writeKeys([
    "# test keys",
    `writer:${WRITER}:read,write`,
    `deleter:${DELETER}:delete`,
    `ops:${OPS}:admin`,
  ]);
  // A long poll period: a rotation must be picked up by the change notification (or SIGHUP).
  gw = await startGatewayProcess(cluster, ["--api-keys-file", keysFile, "--api-keys-poll-ms", "60000"]);
  await waitLive(gw.url, 3, bearer(OPS));
});

after(async () => {
  await gw?.stop();
  await cluster?.stop();
  await tmp?.remove();
});

/** A gateway process on `listen` with `args`; resolves once it listens or exits. */
async function tryGateway(listen: string, args: string[]): Promise<{ proc: Proc; code: number | null }> {
  const proc = startProcess([CLI, "gateway", "--listen", listen, ...cluster.registryArgs, ...args], {
    env: {
      DFS_CLUSTER_SECRET: TEST_SECRET,
      DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY,
      DFS_CLUSTER_KEY: TEST_KEY,
      ...cluster.registryEnv,
    },
  });
  const listening = proc
    .waitForLog((l) => l.msg === "gateway listening")
    .then(
      () => true,
      () => false,
    );
  const exited = proc.exited.then(() => false);
  if (await Promise.race([listening, exited])) return { proc, code: null };
  return { proc, code: await proc.stop("SIGKILL") };
}

describe("fail closed", () => {
  test("a gateway on 0.0.0.0 without keys refuses to start (exit 2); --anonymous or keys let it", async () => {
    const refused = await tryGateway("0.0.0.0:0", []);
    assert.equal(refused.code, 2);
    assert.match(refused.proc.stderr(), /DFS_ERR_CONFIG: gateway\.listen: 0\.0\.0\.0:0 is reachable/);
    assert.match(refused.proc.stderr(), /--anonymous/);

    const both = await tryGateway("0.0.0.0:0", ["--anonymous", "--api-keys-file", keysFile]);
    assert.equal(both.code, 2, "keys and --anonymous together are ambiguous");

    for (const args of [["--anonymous"], ["--api-keys-file", keysFile]]) {
      const started = await tryGateway("0.0.0.0:0", args);
      try {
        assert.equal(started.code, null, `${args.join(" ")}: ${started.proc.stderr()}`);
      } finally {
        await started.proc.stop();
      }
    }
  });
});

describe("permissions", () => {
  test("a key without delete gets 403 on DELETE; one with delete deletes", async () => {
    const up = await http(gw.url, "PUT", "/v1/files?name=p.bin", {
      body: patternBytes(5000, 1),
      headers: bearer(WRITER),
    });
    assert.equal(up.status, 201);
    const hash = (up.json as { hash: string }).hash;
    assert.equal(
      (await http(gw.url, "PUT", "/v1/files", { body: "x", headers: bearer(DELETER) })).status,
      403,
    );
    const denied = await http(gw.url, "DELETE", `/v1/files/${hash}`, { headers: bearer(WRITER) });
    assert.equal(denied.status, 403);
    assert.equal((denied.json as { code: string }).code, "DFS_ERR_FORBIDDEN");
    assert.match((denied.json as { detail: string }).detail, /"writer" has no delete permission/);
    assert.equal((await http(gw.url, "DELETE", `/v1/files/${hash}`)).status, 401);
    assert.equal(
      (await http(gw.url, "DELETE", `/v1/files/${hash}`, { headers: bearer(DELETER) })).status,
      204,
    );
  });

  test("/v1/nodes, /meta and /metrics need admin; health and readiness need nothing", async () => {
    const up = await http(gw.url, "PUT", "/v1/files", {
      body: patternBytes(3000, 2),
      headers: bearer(WRITER),
    });
    const hash = (up.json as { hash: string }).hash;
    for (const path of ["/v1/nodes", `/v1/files/${hash}/meta`, "/metrics"]) {
      assert.equal((await http(gw.url, "GET", path)).status, 401, `${path} without a key`);
      assert.equal(
        (await http(gw.url, "GET", path, { headers: bearer(WRITER) })).status,
        403,
        `${path} writer`,
      );
      assert.equal((await http(gw.url, "GET", path, { headers: bearer(OPS) })).status, 200, `${path} admin`);
    }
    for (const path of ["/healthz", "/readyz"]) assert.equal((await http(gw.url, "GET", path)).status, 200);
    // Downloads stay open unless reads are protected.
    assert.equal((await http(gw.url, "GET", `/v1/files/${hash}`)).status, 200);
  });

  test("dfs nodes, status and stat work with an admin key and say why without one", async () => {
    const up = await http(gw.url, "PUT", "/v1/files", {
      body: patternBytes(2000, 3),
      headers: bearer(WRITER),
    });
    const hash = (up.json as { hash: string }).hash;
    const dfs = async (args: string[], key?: string) => {
      try {
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [CLI, ...args, "--gateway", gw.url, ...(key ? ["--api-key", key] : [])],
          { encoding: "utf8", env: { PATH: process.env.PATH } },
        );
        return { code: 0, out: stdout };
      } catch (err) {
        const e = err as { code: number; stderr: string };
        return { code: e.code, out: e.stderr };
      }
    };
    for (const args of [["nodes"], ["status"], ["stat", hash]]) {
      const ok = await dfs(args, OPS);
      assert.equal(ok.code, 0, `dfs ${args[0]}: ${ok.out}`);
    }
    assert.match((await dfs(["nodes"], OPS)).out, /live/);
    const none = await dfs(["stat", hash]);
    assert.equal(none.code, 1);
    assert.match(none.out, /DFS_ERR_UNAUTHORIZED: .*admin permission.*--api-key/);
    const writer = await dfs(["nodes"], WRITER);
    assert.equal(writer.code, 1);
    assert.match(writer.out, /DFS_ERR_FORBIDDEN: the API key "writer" has no admin permission/);
  });
});

describe("keys change without a restart", () => {
  test("a rotated key works at once and the old one stops; a bad file keeps the keys; SIGHUP reloads", async () => {
    const body = patternBytes(1000, 4);
    const upload = (key: string) => http(gw.url, "PUT", "/v1/files", { body, headers: bearer(key) });
    const before = await upload(WRITER);
    assert.ok([200, 201].includes(before.status), JSON.stringify(before.json));
    assert.equal((await upload(WRITER_NEW)).status, 403);

    await writeKeys([`writer:${WRITER_NEW}:read,write`, `deleter:${DELETER}:delete`, `ops:${OPS}:admin`]);
    await waitFor(async () => (await upload(WRITER_NEW)).status !== 403, 5000, "the rotated key to work");
    assert.equal((await upload(WRITER)).status, 403, "the old key stopped");
    await waitFor(
      async () => gw.proc.logs.filter((l) => l.msg === "API keys loaded").length >= 2,
      5000,
      "the reload to be logged",
    );

    // A malformed file is reported and ignored: the keys in force stay.
    await writeKeys([`writer:${WRITER}:read,write,fly`]);
    await waitFor(
      async () => gw.proc.logs.some((l) => l.msg === "API keys not reloaded; the previous keys stay"),
      5000,
      "the bad file to be reported",
    );
    assert.ok([200, 201].includes((await upload(WRITER_NEW)).status));
    assert.equal((await upload(WRITER)).status, 403);

    // SIGHUP re-reads the file (and does not stop the gateway).
    await writeKeys([`writer:${WRITER}:read,write`, `ops:${OPS}:admin`]);
    gw.proc.child.kill("SIGHUP");
    await waitFor(async () => (await upload(WRITER)).status !== 403, 5000, "the key restored");
    assert.equal((await upload(WRITER_NEW)).status, 403);
    assert.equal((await http(gw.url, "GET", "/healthz")).status, 200);
  });
});

describe("re-uploads", () => {
  test("a re-upload of existing bytes answers with its own name and type", async () => {
    const data = patternBytes(40_000, 5);
    const put = (name: string, type: string) =>
      http(gw.url, "PUT", `/v1/files?name=${name}`, {
        body: data,
        headers: { ...bearer(WRITER), "content-type": type },
      });
    const first = await put("first.txt", "text/plain");
    assert.equal(first.status, 201);
    const second = await put("second.bin", "application/x-second");
    assert.equal(second.status, 200);
    const body = second.json as { name: string; contentType: string; hash: string };
    assert.equal(body.name, "second.bin");
    assert.equal(body.contentType, "application/x-second");
    // The stored file keeps the name of the upload that made it.
    const got = await http(gw.url, "GET", `/v1/files/${body.hash}`);
    assert.match(String(got.headers["content-disposition"]), /first\.txt/);
  });
});
