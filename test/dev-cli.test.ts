import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { CLI, type Proc, startProcess } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `dfs <args>` as a user runs it; resolves with its exit code and output. */
async function dfs(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
      encoding: "utf8",
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Pids of processes whose command line mentions `marker` (our unique temp dir). */
async function processesMentioning(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids;
}

describe("dfs dev, used as a user would", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let dev: Proc;
  let url = "";
  let sentinels = "";
  const env = () => ({ DFS_GATEWAY: url });

  before(async () => {
    dir = await makeTempDir("dfs-dev-test-");
    const port = await freePort();
    const s3Port = await freePort();
    dev = startProcess([
      CLI,
      "dev",
      "--data",
      join(dir.path, "data"),
      "--port",
      String(port),
      "--s3-port",
      String(s3Port),
    ]);
    const line = await dev.waitForLog(
      (l) => typeof l.msg === "string" && l.msg.startsWith("dfs-mesh is running"),
      60_000,
    );
    url = String(line.msg).split(": ")[1]!;
    const sentinelLine = await dev.waitForLog(
      (l) => typeof l.msg === "string" && l.msg.includes("sentinels:"),
    );
    sentinels = String(sentinelLine.msg).split("sentinels:")[1]!.trim().split(" ")[0]!;
  });

  after(async () => {
    await dev?.stop("SIGKILL");
    await dir?.remove();
  });

  test("curl uploads and downloads; dfs put/get/stat/rm/nodes/status work against it", async () => {
    const file = join(dir.path, "photo.bin");
    const data = patternBytes(3 * 1024 * 1024 + 11, 5);
    await writeFile(file, data);
    const hash = sha256(data);

    const up = await run("curl", ["-sS", "-F", `file=@${file}`, `${url}/v1/files`], { encoding: "utf8" });
    assert.equal(JSON.parse(up.stdout).hash, hash);
    const copy = join(dir.path, "copy.bin");
    await run("curl", ["-sSf", "-o", copy, `${url}/v1/files/${hash}`]);
    assert.ok((await readFile(copy)).equals(data));

    const put = await dfs(["put", file], env());
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, `${hash}  ${file}\n`);

    const out = join(dir.path, "got.bin");
    const get = await dfs(["get", hash, "-o", out], env());
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(out)).equals(data));

    const stat = await dfs(["stat", hash, "--json"], env());
    assert.equal(stat.code, 0, stat.stderr);
    const meta = JSON.parse(stat.stdout);
    assert.equal(meta.size, data.length);
    assert.equal(meta.name, "photo.bin");

    const nodes = await dfs(["nodes", "--json", "--sentinels", sentinels, "--master-name", "mymaster"]);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(JSON.parse(nodes.stdout).filter((n: { state: string }) => n.state === "live").length, 3);
    const viaGateway = await dfs(["nodes"], env());
    assert.equal(viaGateway.code, 0, viaGateway.stderr);
    assert.equal((viaGateway.stdout.match(/ live$/gm) ?? []).length, 3);

    const status = await dfs(["status"], env());
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ready: yes$/m);

    const rm = await dfs(["rm", hash], env());
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await dfs(["get", hash, "-o", join(dir.path, "gone.bin")], env());
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /DFS_ERR_NOT_FOUND/);
    assert.deepEqual(
      (await readdir(dir.path)).filter((f) => f.includes("gone")),
      [],
      "no partial file left",
    );
  });

  test("the S3 API it prints works with the credentials it prints", async () => {
    const s3Line = await dev.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("S3 API: "));
    const endpoint = String(s3Line.msg).split(" ")[2]!;
    const credLine = await dev.waitForLog(
      (l) => typeof l.msg === "string" && l.msg.includes("AWS_ACCESS_KEY_ID="),
    );
    const id = /AWS_ACCESS_KEY_ID=(\S+)/.exec(String(credLine.msg))![1]!;
    const secret = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(String(credLine.msg))![1]!;
    const s3 = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: id, secretAccessKey: secret },
    });
    const data = patternBytes(200_000, 9);
    await s3.send(new CreateBucketCommand({ Bucket: "demo" }));
    await s3.send(new PutObjectCommand({ Bucket: "demo", Key: "README.md", Body: data }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "demo", Key: "README.md" }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), data);
    s3.destroy();
  });

  test("bad input to the CLI: a clear message and exit code 2", async () => {
    const badConfig = join(dir.path, "config.json");
    await writeFile(badConfig, JSON.stringify({ node: { dataDir: "/tmp/x", listen: "no-port-here" } }));
    const node = await dfs(["node", "--config", badConfig], { DFS_CLUSTER_SECRET: "0123456789abcdef0123" });
    assert.equal(node.code, 2);
    assert.match(node.stderr, /node\.listen: expected "host:port"/);
    const notJson = join(dir.path, "broken.json");
    await writeFile(notJson, "{ oops");
    const broken = await dfs(["gateway", "--config", notJson]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /not valid JSON/);
    const hash = await dfs(["get", "not-a-hash"], env());
    assert.equal(hash.code, 2);
    assert.match(hash.stderr, /64 lowercase hex/);
    const unknown = await dfs(["frobnicate"]);
    assert.equal(unknown.code, 2);
    const help = await dfs(["--help"]);
    assert.equal(help.code, 0);
    for (const name of ["dev", "node", "gateway", "put", "get", "stat", "rm", "nodes", "status"]) {
      assert.match(help.stdout, new RegExp(`^  ${name} `, "m"));
      const sub = await dfs([name, "--help"]);
      assert.equal(sub.code, 0);
      assert.match(sub.stdout, new RegExp(`^usage: dfs ${name}`));
    }
  });

  test("SIGINT stops everything: no process and no listening port left behind", async () => {
    const port = Number(new URL(url).port);
    const code = await dev.stop("SIGINT", 30_000);
    assert.equal(code, 0);
    assert.deepEqual(await processesMentioning(dir.path), []);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
