import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  loadGatewayConfig,
  loadNodeConfig,
  parseBytes,
  parseHostPort,
  parseKeysFile,
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

describe("gateway keys and the fail-closed rule", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    dir = await makeTempDir();
  });
  after(() => dir.remove());
  const base = { DFS_CLUSTER_SECRET: SECRET, DFS_CLUSTER_KEY: KEY, DFS_REDIS_URL: "redis://x:1" };

  test("off loopback a gateway needs keys or --anonymous, not both; loopback needs neither", async () => {
    const keysFile = join(dir.path, "keys");
    await writeFile(keysFile, `ops:${"o".repeat(20)}:admin\n`);
    const load = (flags: Record<string, string | boolean>) => loadGatewayConfig({ env: base, flags });
    assert.throws(
      () => load({ listen: "0.0.0.0:8080" }),
      configError(/0\.0\.0\.0:8080 is reachable.*--anonymous/),
    );
    assert.throws(() => load({ listen: "[::]:8080" }), configError(/is reachable/));
    assert.throws(() => load({ listen: "10.1.2.3:8080" }), configError(/is reachable/));
    assert.throws(
      () => load({ listen: "0.0.0.0:8080", anonymous: true, "api-keys-file": keysFile }),
      configError(/either API keys or --anonymous/),
    );
    assert.equal(load({ listen: "0.0.0.0:8080", anonymous: true }).gateway.keys.length, 0);
    for (const listen of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.9.9.9:1"]) {
      assert.equal(load({ listen }).gateway.keys.length, 0, listen);
    }
    const keyed = load({ listen: "0.0.0.0:8080", "api-keys-file": keysFile, "api-keys": "k".repeat(16) });
    assert.deepEqual(
      keyed.gateway.keys.map((k) => [k.name, k.grants.map((g) => g.permission).join(",")]),
      [
        ["apiKeys[0]", "read,write,delete,admin"],
        ["ops", "admin"],
      ],
    );
    assert.throws(() => load({ "api-keys-file": join(dir.path, "absent") }), configError(/cannot read/));
  });

  test("the S3 listener: off unless set, the same fail-closed rule, a region name", () => {
    const load = (flags: Record<string, string | boolean>) => loadGatewayConfig({ env: base, flags });
    assert.equal(load({}).s3.listenAddr, undefined);
    assert.deepEqual(load({ "s3-listen": "127.0.0.1:9000" }).s3.listenAddr, {
      host: "127.0.0.1",
      port: 9000,
    });
    assert.equal(load({}).s3.region, "us-east-1");
    assert.throws(
      () => load({ "s3-listen": "0.0.0.0:9000" }),
      configError(/s3\.listen: 0\.0\.0\.0:9000 is reachable/),
    );
    assert.equal(load({ "s3-listen": "0.0.0.0:9000", "api-keys": "k".repeat(16) }).s3.listenAddr?.port, 9000);
    assert.equal(load({ "s3-region": "eu-central-1" }).s3.region, "eu-central-1");
    assert.throws(() => load({ "s3-region": "Not A Region" }), configError(/s3\.region/));
  });

  test("a keys file: name:secret:perms lines; errors name the line, never the secret", () => {
    const keys = parseKeysFile(
      [
        "# comment",
        "",
        "a:secret:with:colons-0123:read,write",
        "  b:bbbbbbbbbbbbbbbbbbbb:all  ",
        "c:cccccccccccccccccccc:delete",
      ].join("\n"),
      "keys",
    );
    assert.deepEqual(
      keys.map((k) => [k.name, k.secret, k.grants.map((g) => `${g.permission}@${g.scope}`).join(",")]),
      [
        ["a", "secret:with:colons-0123", "read@*,write@*"],
        ["b", "b".repeat(20), "read@*,write@*,delete@*,admin@*"],
        ["c", "c".repeat(20), "delete@*"],
      ],
    );
    const bad: [string, RegExp][] = [
      ["nocolons", /keys:1: expected name:secret:perms/],
      ["a:short:read", /keys:1: the secret of key "a" must be at least 16/],
      ["a:has space in it 12345:read", /keys:1: the secret/],
      [`x y:${"s".repeat(16)}:read`, /keys:1: a key name/],
      [`a:${"s".repeat(16)}:fly`, /keys:1: unknown permission "fly"/],
      [`a:${"s".repeat(16)}:read@photos`, /grants per bucket are not supported yet/],
      [`a:${"s".repeat(16)}:read\na:${"t".repeat(16)}:read`, /keys:2: key "a" is listed twice/],
      [
        `a:${"s".repeat(16)}:read\nb:${"s".repeat(16)}:read`,
        /keys:2: key "b" has the secret of an earlier key/,
      ],
    ];
    for (const [text, message] of bad) {
      assert.throws(
        () => parseKeysFile(text, "keys"),
        (err: unknown) =>
          isDfsError(err, "DFS_ERR_CONFIG") &&
          message.test(err.message) &&
          !err.message.includes("s".repeat(16)),
        text,
      );
    }
  });
});

test("README's configuration table lists every setting", async () => {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const missing = SETTINGS.filter((s) => !readme.includes(`| \`${s.env}\` | \`--${s.flag}\` |`)).map(
    (s) => s.env,
  );
  assert.deepEqual(missing, []);
});
