/**
 * s3cmd, rclone and restic (their Debian packages) against the S3 listener of a gateway over a
 * real cluster (Redis under Sentinel, three `dfs node` processes), each signing with an access key
 * kept in the cluster that holds grants on the clients' buckets only. Every step checks the bytes
 * (SHA-256 of what comes back against what went in). A client whose binary is missing is skipped
 * with a message; .ci/run installs them. aws-cli is in s3-clients-aws.test.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findClient, runClient, skipWithout, treeDigest } from "./helpers/clients.ts";
import {
  type ClientsCluster,
  digestOf,
  HIDDEN_BUCKET,
  MiB,
  makeTree,
  REGION,
  startClientsCluster,
} from "./helpers/clients-cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";

const bins = {
  s3cmd: findClient("s3cmd"),
  rclone: findClient("rclone"),
  restic: findClient("restic"),
};
const skipUnless = (name: keyof typeof bins, pkg: string) =>
  skipWithout(bins[name] === undefined ? [pkg] : []);

let cluster: ClientsCluster;
let endpoint: string;
let key: { id: string; secret: string };

before(async () => {
  cluster = await startClientsCluster("s3clients:", ["dfs-s3cmd", "dfs-rclone", "dfs-restic"]);
  endpoint = cluster.endpoint;
  key = cluster.key;
});

after(async () => {
  await cluster?.stop();
});

describe("s3cmd", { skip: skipUnless("s3cmd", "s3cmd") }, () => {
  let dir: string;
  let s3cmd: (...args: string[]) => ReturnType<typeof runClient>;

  before(async () => {
    dir = await cluster.clientDir("s3cmd");
    const config = join(dir, "s3cfg");
    const host = endpoint.slice("http://".length);
    // host_bucket without %(bucket)s: path-style requests.
    await writeFile(
      config,
      [
        "[default]",
        `access_key = ${key.id}`,
        `secret_key = ${key.secret}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        `bucket_location = ${REGION}`,
        "use_https = False",
        "signature_v2 = False",
        "",
      ].join("\n"),
    );
    s3cmd = (...args) =>
      runClient(bins.s3cmd!, ["-c", config, ...args], {
        env: { HOME: join(dir, "home") },
        timeoutMs: 90_000,
      });
  });

  test("mb, put (single and multipart), ls, get, del", async () => {
    await s3cmd("mb", "s3://dfs-s3cmd");
    const small = patternBytes(250_000, 21);
    const big = patternBytes(12 * MiB, 22);
    await writeFile(join(dir, "small.bin"), small);
    await writeFile(join(dir, "big.bin"), big);
    await s3cmd("put", join(dir, "small.bin"), "s3://dfs-s3cmd/a/small.bin");
    await s3cmd("put", "--multipart-chunk-size-mb=5", join(dir, "big.bin"), "s3://dfs-s3cmd/a/big.bin");
    const buckets = (await s3cmd("ls")).stdout;
    assert.match(buckets, /s3:\/\/dfs-s3cmd$/m);
    assert.doesNotMatch(buckets, new RegExp(HIDDEN_BUCKET), "a bucket without a grant is not listed");
    const listed = (await s3cmd("ls", "--recursive", "s3://dfs-s3cmd")).stdout;
    assert.match(listed, /\s250000\s+s3:\/\/dfs-s3cmd\/a\/small\.bin$/m);
    assert.match(listed, /\s12582912\s+s3:\/\/dfs-s3cmd\/a\/big\.bin$/m);
    await s3cmd("get", "s3://dfs-s3cmd/a/small.bin", join(dir, "small.back"));
    await s3cmd("get", "s3://dfs-s3cmd/a/big.bin", join(dir, "big.back"));
    assert.equal(await digestOf(join(dir, "small.back")), sha256(small));
    assert.equal(await digestOf(join(dir, "big.back")), sha256(big));
    await s3cmd("del", "s3://dfs-s3cmd/a/small.bin");
    const left = (await s3cmd("ls", "--recursive", "s3://dfs-s3cmd")).stdout;
    assert.doesNotMatch(left, /small\.bin/);
    assert.match(left, /big\.bin/);
  });
});

describe("rclone", { skip: skipUnless("rclone", "rclone") }, () => {
  let dir: string;
  let rclone: (...args: string[]) => ReturnType<typeof runClient>;

  before(async () => {
    dir = await cluster.clientDir("rclone");
    const config = join(dir, "rclone.conf");
    await writeFile(
      config,
      [
        "[dfs]",
        "type = s3",
        "provider = Other",
        `access_key_id = ${key.id}`,
        `secret_access_key = ${key.secret}`,
        `endpoint = ${endpoint}`,
        `region = ${REGION}`,
        "force_path_style = true",
        "",
      ].join("\n"),
    );
    const env = { HOME: join(dir, "home"), RCLONE_CONFIG: config, RCLONE_CACHE_DIR: join(dir, "cache") };
    rclone = (...args) => runClient(bins.rclone!, args, { env, timeoutMs: 90_000 });
  });

  test("copy up, check (0 differences), lsf, copy down, multipart, delete", async () => {
    const src = join(dir, "tree");
    const want = await makeTree(src, 30);
    await rclone("copy", src, "dfs:dfs-rclone/tree");
    const checked = await rclone("check", src, "dfs:dfs-rclone/tree");
    assert.match(checked.stderr, /0 differences found/);
    const lsf = (await rclone("lsf", "-R", "--files-only", "dfs:dfs-rclone/tree")).stdout;
    assert.deepEqual(lsf.trim().split("\n").sort(), [...want.keys()].sort());
    // rclone md5sum reads the ETags: S3's MD5 of each single-part object.
    const sums = (await rclone("md5sum", "dfs:dfs-rclone/tree")).stdout.trim().split("\n");
    assert.equal(sums.length, want.size);
    for (const line of sums) {
      const [md5, rel] = [line.slice(0, 32), line.slice(34)];
      assert.equal(
        md5,
        createHash("md5")
          .update(await readFile(join(src, rel)))
          .digest("hex"),
        rel,
      );
    }
    const down = join(dir, "tree-back");
    await rclone("copy", "dfs:dfs-rclone/tree", down);
    assert.deepEqual(await treeDigest(down), want);
    // rclone's own multipart upload (parts of 5 MiB above a 5 MiB cutoff), checked by MD5 as well.
    const big = patternBytes(12 * MiB + 5, 31);
    await writeFile(join(dir, "big.bin"), big);
    const mp = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"];
    await rclone("copy", ...mp, join(dir, "big.bin"), "dfs:dfs-rclone/big");
    const bigCheck = await rclone("check", join(dir, "big.bin"), "dfs:dfs-rclone/big");
    assert.match(bigCheck.stderr, /0 differences found/);
    await rclone("copy", "dfs:dfs-rclone/big/big.bin", join(dir, "big-back"));
    assert.equal(await digestOf(join(dir, "big-back", "big.bin")), sha256(big));
    await rclone("delete", "dfs:dfs-rclone/big");
    await rclone("delete", "dfs:dfs-rclone/tree");
    const left = (await rclone("lsf", "-R", "--files-only", "dfs:dfs-rclone")).stdout;
    assert.equal(left.trim(), "");
  });
});

describe("restic", { skip: skipUnless("restic", "restic") }, () => {
  let dir: string;
  let restic: (...args: string[]) => ReturnType<typeof runClient>;

  before(async () => {
    dir = await cluster.clientDir("restic");
    const env = {
      HOME: join(dir, "home"),
      AWS_ACCESS_KEY_ID: key.id,
      AWS_SECRET_ACCESS_KEY: key.secret,
      AWS_DEFAULT_REGION: REGION,
      RESTIC_PASSWORD: "correct horse battery staple",
      RESTIC_REPOSITORY: `s3:${endpoint}/dfs-restic/repo`,
      RESTIC_CACHE_DIR: join(dir, "cache"),
    };
    restic = (...args) => runClient(bins.restic!, args, { env, timeoutMs: 120_000 });
  });

  test("init, backup, snapshots, restore into a new folder, forget --prune, check --read-data", async () => {
    const src = join(dir, "tree");
    const want = await makeTree(src, 40);
    await restic("init");
    await restic("backup", "--host", "test", src);
    const snapshots = JSON.parse((await restic("snapshots", "--json")).stdout) as { paths: string[] }[];
    assert.equal(snapshots.length, 1);
    assert.deepEqual(snapshots[0]!.paths, [src]);
    const target = join(dir, "restored");
    await restic("restore", "latest", "--target", target);
    // restic restores a backed-up path under the target with its full path.
    assert.deepEqual(await treeDigest(join(target, src)), want);
    // A second snapshot after a change, then forget the first and prune: deletes and repacks.
    await writeFile(join(src, "nested", "one.bin"), patternBytes(900_000, 41));
    const wantNow = await treeDigest(src);
    await restic("backup", "--host", "test", src);
    await restic("forget", "--keep-last", "1", "--prune");
    const kept = JSON.parse((await restic("snapshots", "--json")).stdout) as unknown[];
    assert.equal(kept.length, 1);
    const again = join(dir, "restored-again");
    await restic("restore", "latest", "--target", again);
    assert.deepEqual(await treeDigest(join(again, src)), wantNow);
    const checked = await restic("check", "--read-data");
    assert.match(checked.stdout, /no errors were found/);
  });
});
