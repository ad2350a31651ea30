import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  loadGatewayConfig,
  loadNodeConfig,
  parseBytes,
  parseHostPort,
  SETTINGS,
} from "../src/config/index.ts";
import { isDfsError } from "../src/errors.ts";
import { REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const SECRET = "0123456789abcdef-secret";
const KEY = "ab".repeat(32);

function configError(pattern: RegExp) {
  return (err: unknown) => isDfsError(err, "DFS_ERR_CONFIG") && pattern.test(err.message);
}

describe("configuration", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    dir = await makeTempDir();
  });
  after(() => dir.remove());

  test("sizes and addresses parse with units; bad ones do not", () => {
    assert.equal(parseBytes("1MiB"), 1024 * 1024);
    assert.equal(parseBytes("64 KiB"), 65536);
    assert.equal(parseBytes("2g"), 2 * 1024 ** 3);
    assert.equal(parseBytes("10 parsecs"), undefined);
    assert.deepEqual(parseHostPort("[::1]:80"), { host: "::1", port: 80 });
    assert.equal(parseHostPort("host:99999"), undefined);
    assert.equal(parseHostPort("nohost"), undefined);
  });

  test("flags override env, env overrides config.json", async () => {
    const file = join(dir.path, "config.json");
    await writeFile(
      file,
      JSON.stringify({
        redis: { masterName: "from-file", sentinelAddrs: ["127.0.0.1:26379"] },
        node: { zone: "file-zone", dataDir: "/d" },
      }),
    );
    const config = loadNodeConfig({
      file,
      env: { DFS_ZONE: "env-zone", DFS_CLUSTER_SECRET: SECRET, DFS_MASTER_NAME: "from-env" },
      flags: { zone: "flag-zone", capacity: "10GiB" },
    });
    assert.equal(config.node.zone, "flag-zone");
    assert.equal(config.node.capacityBytes, 10 * 1024 ** 3);
    assert.equal(config.registry?.masterName, "from-env");
    assert.deepEqual(config.registry?.sentinelAddrs, ["127.0.0.1:26379"]);
    assert.equal(config.secret.toString(), SECRET);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.node));
  });

  test("a bad value names the field and what is allowed", () => {
    const base = { env: { DFS_CLUSTER_SECRET: SECRET }, flags: { data: "/d" } };
    assert.throws(
      () => loadNodeConfig({ ...base, flags: { data: "/d", listen: "nope" } }),
      configError(/node\.listen: expected "host:port"/),
    );
    assert.throws(
      () => loadNodeConfig({ ...base, flags: { data: "/d", capacity: "lots" } }),
      configError(/node\.capacityBytes/),
    );
    assert.throws(() => loadNodeConfig({ flags: { data: "/d" } }), configError(/cluster\.secret/));
    assert.throws(
      () => loadNodeConfig({ env: { DFS_CLUSTER_SECRET: SECRET } }),
      configError(/node\.dataDir: required/),
    );
    assert.throws(
      () => loadNodeConfig({ ...base, env: { ...base.env, DFS_FSYNC: "maybe" } }),
      configError(/DFS_FSYNC: expected true or false/),
    );
  });

  test("config.json: unknown keys and invalid JSON are refused with the file named", async () => {
    const bad = join(dir.path, "bad.json");
    await writeFile(bad, JSON.stringify({ redis: { masterNmae: "typo" } }));
    assert.throws(
      () => loadNodeConfig({ file: bad, flags: { data: "/d" } }),
      configError(/bad\.json: redis: Unrecognized key/),
    );
    const broken = join(dir.path, "broken.json");
    await writeFile(broken, "{ not json");
    assert.throws(() => loadNodeConfig({ file: broken }), configError(/not valid JSON/));
  });

  test("secrets come from files; the gateway needs a registry and a 32-byte key", async () => {
    const secretFile = join(dir.path, "secret");
    const keyFile = join(dir.path, "key");
    await writeFile(secretFile, `${SECRET}\n`);
    await writeFile(keyFile, `${KEY}\n`);
    const config = loadGatewayConfig({
      flags: {
        "secret-file": secretFile,
        "key-file": keyFile,
        sentinels: "127.0.0.1:1,127.0.0.1:2",
        "chunk-size": "64KiB",
      },
    });
    assert.equal(config.secret.toString(), SECRET);
    assert.equal(config.key.toString("hex"), KEY);
    assert.equal(config.gateway.chunkBytes, 65536);
    assert.deepEqual(config.registry.sentinelAddrs, ["127.0.0.1:1", "127.0.0.1:2"]);
    assert.throws(
      () => loadGatewayConfig({ flags: { "secret-file": secretFile, "key-file": keyFile } }),
      configError(/redis: a registry is required/),
    );
    assert.throws(
      () =>
        loadGatewayConfig({
          env: { DFS_CLUSTER_SECRET: SECRET, DFS_CLUSTER_KEY: "abc", DFS_REDIS_URL: "redis://x:1" },
        }),
      configError(/cluster\.key/),
    );
    assert.throws(
      () =>
        loadGatewayConfig({
          env: {
            DFS_CLUSTER_SECRET: SECRET,
            DFS_CLUSTER_KEY: KEY,
            DFS_REDIS_URL: "redis://x:1",
            DFS_REPLICAS: "2",
            DFS_WRITE_QUORUM: "3",
          },
        }),
      configError(/gateway\.writeQuorum/),
    );
  });
});

test("README's configuration table lists every setting", async () => {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const missing = SETTINGS.filter((s) => !readme.includes(`| \`${s.env}\` | \`--${s.flag}\` |`)).map(
    (s) => s.env,
  );
  assert.deepEqual(missing, []);
});
