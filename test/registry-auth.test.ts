/**
 * Redis AUTH and TLS for the registry, against real redis-server processes: one with an ACL user
 * and password (the default user off), one speaking only TLS and asking for client certificates
 * (made here with openssl). Settings go through the config loader, files included.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import type { RegistryConfig } from "../src/config/index.ts";
import { loadRegistryConfig } from "../src/config/load.ts";
import { isDfsError } from "../src/errors.ts";
import { startMembershipView } from "../src/registry/index.ts";
import { startMember, testLogger, waitFor } from "./helpers/registry.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const logger = testLogger();
const run = promisify(execFile);
const PASSWORD = "registry-password-0123";
let dir: Awaited<ReturnType<typeof makeTempDir>>;
const servers: ChildProcess[] = [];
let aclPort = 0;
let tlsPort = 0;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** A redis-server in the foreground, stopped by pid after the file. Resolves once it answers. */
async function startRedis(args: string[], ping: () => Redis): Promise<void> {
  const child = spawn("redis-server", ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", ...args], {
    stdio: "ignore",
  });
  servers.push(child);
  await waitFor(
    async () => {
      const client = ping();
      client.on("error", () => {});
      try {
        return (await client.ping()) === "PONG";
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    },
    10_000,
    "redis-server to answer",
  );
}

async function openssl(...args: string[]): Promise<void> {
  await run("openssl", args, { cwd: dir.path });
}

before(async () => {
  dir = await makeTempDir("dfs-redis-auth-");
  aclPort = await freePort();
  await startRedis(
    [
      "--port",
      String(aclPort),
      "--notify-keyspace-events",
      "KEA",
      "--user",
      "default",
      "off",
      "--user",
      "dfs",
      "on",
      `>${PASSWORD}`,
      "~*",
      "&*",
      "+@all",
    ],
    () =>
      new Redis({
        host: "127.0.0.1",
        port: aclPort,
        username: "dfs",
        password: PASSWORD,
        retryStrategy: () => null,
      }),
  );
  // A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
  await openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  await openssl(
    "req",
    "-x509",
    "-new",
    "-key",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=dfs-test-ca",
  );
  await writeFile(join(dir.path, "server.ext"), "subjectAltName=IP:127.0.0.1\n");
  for (const name of ["server", "client"]) {
    await openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
    await openssl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    await openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      ...(name === "server" ? ["-extfile", "server.ext"] : []),
    );
  }
  tlsPort = await freePort();
  const file = (n: string) => join(dir.path, n);
  await startRedis(
    [
      "--port",
      "0",
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      file("server.crt"),
      "--tls-key-file",
      file("server.key"),
      "--tls-ca-cert-file",
      file("ca.crt"),
      "--tls-auth-clients",
      "yes",
    ],
    () =>
      new Redis({
        host: "127.0.0.1",
        port: tlsPort,
        tls: {
          ca: readFileSync(file("ca.crt")),
          cert: readFileSync(file("client.crt")),
          key: readFileSync(file("client.key")),
        },
        retryStrategy: () => null,
      }),
  );
  await writeFile(file("password"), `${PASSWORD}\n`);
});

after(async () => {
  for (const child of servers) {
    child.kill("SIGKILL");
    if (child.exitCode === null) await once(child, "exit");
  }
  await dir?.remove();
});

function config(env: NodeJS.ProcessEnv) {
  return loadRegistryConfig({ env: { DFS_REDIS_PREFIX: "auth:", DFS_HEARTBEAT_MS: "200", ...env } });
}

/** A view and a member "node-a" on `c`: the member must show up live in the view. */
async function seenLive(c: RegistryConfig, what: string): Promise<void> {
  const view = await startMembershipView(c, { logger, startTimeoutMs: 5000 });
  const a = await startMember(c, "node-a");
  try {
    await waitFor(() => view.live().some((n) => n.id === "node-a"), 5000, what);
  } finally {
    await a.close();
    await view.close();
  }
}

/** For assert.rejects: a DFS_ERR_REGISTRY whose message matches `reason`. */
function refused(reason: RegExp): (err: unknown) => true {
  return (err) => {
    assert.ok(isDfsError(err, "DFS_ERR_REGISTRY"), String(err));
    assert.match((err as Error).message, reason);
    return true;
  };
}

test("with the ACL user and password (from a file) the registry works", async () => {
  const c = config({
    DFS_REDIS_URL: `redis://127.0.0.1:${aclPort}`,
    DFS_REDIS_USERNAME: "dfs",
    DFS_REDIS_PASSWORD_FILE: join(dir.path, "password"),
  });
  assert.equal(c.password, PASSWORD);
  await seenLive(c, "node-a live");
});

test("a wrong or missing password fails with DFS_ERR_REGISTRY and says why", async () => {
  const wrong = config({
    DFS_REDIS_URL: `redis://127.0.0.1:${aclPort}`,
    DFS_REDIS_USERNAME: "dfs",
    DFS_REDIS_PASSWORD: "not-the-password",
  });
  await assert.rejects(startMembershipView(wrong, { logger, startTimeoutMs: 1500 }), refused(/WRONGPASS/));
  await assert.rejects(startMember(wrong, "node-b"), refused(/WRONGPASS/));
  const missing = config({ DFS_REDIS_URL: `redis://127.0.0.1:${aclPort}` });
  await assert.rejects(
    startMembershipView(missing, { logger, startTimeoutMs: 1500 }),
    refused(/NOAUTH|WRONGPASS/),
  );
});

test("TLS with the CA and a client certificate works; without the certificate it fails clearly", async () => {
  const file = (n: string) => join(dir.path, n);
  const tls = {
    DFS_REDIS_URL: `redis://127.0.0.1:${tlsPort}`,
    DFS_REDIS_TLS: "true",
    DFS_REDIS_TLS_CA_FILE: file("ca.crt"),
  };
  const good = config({
    ...tls,
    DFS_REDIS_TLS_CERT_FILE: file("client.crt"),
    DFS_REDIS_TLS_KEY_FILE: file("client.key"),
  });
  await seenLive(good, "node-a live over TLS");
  await assert.rejects(
    startMembershipView(config(tls), { logger, startTimeoutMs: 1500 }),
    refused(/last error/),
  );
  // Plain TCP to the TLS port never gets an answer either.
  const plain = config({ DFS_REDIS_URL: `redis://127.0.0.1:${tlsPort}` });
  await assert.rejects(startMembershipView(plain, { logger, startTimeoutMs: 1500 }), (err: unknown) =>
    isDfsError(err, "DFS_ERR_REGISTRY"),
  );
});

test("a client certificate without its key is a configuration error", () => {
  assert.throws(
    () =>
      config({
        DFS_REDIS_URL: "redis://127.0.0.1:1",
        DFS_REDIS_TLS: "true",
        DFS_REDIS_TLS_CERT_FILE: join(dir.path, "client.crt"),
      }),
    (err: unknown) => isDfsError(err, "DFS_ERR_CONFIG") && /tlsCertFile/.test((err as Error).message),
  );
});
