/**
 * The name commands of the `dfs` CLI end to end (mb, rb, ls, put, get, rm, cp), as real processes
 * against a gateway on a real cluster (Redis Sentinel, three `dfs node` processes); `dfs put FILE`,
 * `dfs get HASH` and `dfs rm HASH` keep working beside them.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { patternBytes, sha256 } from "./helpers/data.ts";
import {
  type Cluster,
  type Gateway,
  SMALL_CHUNK,
  startCluster,
  startGatewayInProcess,
  waitLive,
} from "./helpers/gateway.ts";
import { CLI } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const run = promisify(execFile);
let cluster: Cluster;
let gw: Gateway;
let dir: { path: string; remove(): Promise<void> };

async function dfs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args, "--gateway", gw.url], {
      env: { ...process.env, DFS_CONFIG: undefined, DFS_GATEWAY: undefined, DFS_API_KEY: undefined },
      maxBuffer: 64 * 1024 * 1024,
      encoding: "utf8",
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  cluster = await startCluster(3, "namescli:");
  gw = await startGatewayInProcess(cluster, { "chunk-size": String(SMALL_CHUNK) });
  await waitLive(gw.url, 3);
  dir = await makeTempDir("dfs-names-cli-");
});

after(async () => {
  await gw?.stop();
  await cluster?.stop();
  await dir?.remove();
});

describe("dfs name commands", () => {
  test("mb, put FILE bucket/key, ls, get, cp, rm, rb; put FILE, get HASH and rm HASH still work", async () => {
    const data = patternBytes(3 * SMALL_CHUNK + 17, 31);
    const file = join(dir.path, "photo.bin");
    await writeFile(file, data);

    const mb = await dfs(["mb", "cli-bucket"]);
    assert.equal(mb.code, 0, mb.stderr);
    assert.equal((await dfs(["mb", "cli-bucket"])).code, 1, "exists");

    const put = await dfs(["put", file, "cli-bucket/pics/one.bin"]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, `${sha256(data)}  cli-bucket/pics/one.bin\n`);
    const putDir = await dfs(["put", file, "cli-bucket/pics/"]);
    assert.equal(putDir.code, 0, putDir.stderr);
    assert.equal(putDir.stdout, `${sha256(data)}  cli-bucket/pics/photo.bin\n`);
    assert.equal((await dfs(["put", file, "cli-bucket/top.bin"])).code, 0);

    const buckets = await dfs(["ls"]);
    assert.match(buckets.stdout, / {2}cli-bucket$/m);
    const top = await dfs(["ls", "cli-bucket"]);
    assert.equal(top.code, 0, top.stderr);
    const lines = top.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^ +PRE {2}pics\/$/);
    assert.match(lines[1]!, new RegExp(`  ${data.length}  top\\.bin$`));
    const deep = await dfs(["ls", "cli-bucket/pics/", "--recursive", "--json"]);
    assert.deepEqual(
      deep.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).key),
      ["pics/one.bin", "pics/photo.bin"],
    );

    const out = join(dir.path, "got.bin");
    const get = await dfs(["get", "cli-bucket/pics/one.bin", "-o", out]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(out)).equals(data));

    const cp = await dfs(["cp", "cli-bucket/pics/one.bin", "cli-bucket/copy.bin"]);
    assert.equal(cp.code, 0, cp.stderr);
    const back = join(dir.path, "copy.bin");
    assert.equal((await dfs(["cp", "cli-bucket/copy.bin", back])).code, 0);
    assert.ok((await readFile(back)).equals(data));

    // The hash commands beside them.
    const small = join(dir.path, "small.txt");
    await writeFile(small, "by hash\n");
    const byHash = await dfs(["put", small]);
    assert.equal(byHash.stdout, `${sha256(Buffer.from("by hash\n"))}  ${small}\n`);
    const hashOut = join(dir.path, "small.got");
    assert.equal((await dfs(["get", sha256(Buffer.from("by hash\n")), "-o", hashOut])).code, 0);
    assert.equal(await readFile(hashOut, "utf8"), "by hash\n");
    assert.equal((await dfs(["rm", sha256(Buffer.from("by hash\n"))])).code, 0);

    const full = await dfs(["rb", "cli-bucket"]);
    assert.equal(full.code, 1, "not empty");
    assert.match(full.stderr, /DFS_ERR_BUCKET_NOT_EMPTY|not empty/);
    for (const key of ["pics/one.bin", "pics/photo.bin", "top.bin", "copy.bin"]) {
      const rm = await dfs(["rm", `cli-bucket/${key}`]);
      assert.equal(rm.code, 0, rm.stderr);
    }
    const missing = await dfs(["get", "cli-bucket/top.bin", "-o", join(dir.path, "none")]);
    assert.equal(missing.code, 1);
    assert.equal((await dfs(["rb", "cli-bucket"])).code, 0);
    assert.doesNotMatch((await dfs(["ls"])).stdout, /cli-bucket/);
  });

  test("the name commands are listed, each with its usage", async () => {
    const help = await dfs(["--help"]);
    for (const name of ["mb", "rb", "ls", "cp", "put", "get", "rm"]) {
      assert.match(help.stdout, new RegExp(`^  ${name} `, "m"));
      const sub = await dfs([name, "--help"]);
      assert.equal(sub.code, 0);
      assert.match(sub.stdout, new RegExp(`^usage: dfs ${name}`));
    }
  });
});
