/**
 * Real S3 clients against the S3 listener of a gateway over a real cluster (Redis under Sentinel,
 * three `dfs node` processes): aws-cli, s3cmd, rclone and restic, each from its Debian package,
 * each signing with an access key kept in the cluster that holds grants on its own buckets only.
 * Every step checks the bytes (SHA-256 of what comes back against what went in). A client whose
 * binary is missing is skipped with a message; .ci/run installs all four.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findClient, runClient, skipWithout, treeDigest } from "./helpers/clients.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { ADMIN, type S3Harness, startS3Harness } from "./helpers/s3.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const REGION = "us-east-1";
const MiB = 1024 * 1024;

const bins = {
  aws: findClient("aws"),
  s3cmd: findClient("s3cmd"),
  rclone: findClient("rclone"),
  restic: findClient("restic"),
};
const skipUnless = (name: keyof typeof bins, pkg: string) =>
  skipWithout(bins[name] === undefined ? [pkg] : []);

let harness: S3Harness;
let endpoint: string;
let key: { id: string; secret: string };
let work: { path: string; remove: () => Promise<void> };

/** The buckets the clients use: the key holds grants on these and on no other. */
const BUCKETS = ["dfs-aws", "dfs-s3cmd", "dfs-rclone", "dfs-restic"];

before(async () => {
  work = await makeTempDir("dfs-s3clients-");
  harness = await startS3Harness(true, "s3clients:");
  endpoint = harness.endpoint;
  key = await harness.createKey(BUCKETS.map((bucket) => ({ bucket, read: true, write: true, owner: true })));
  // A bucket the key holds no grant on: it must not show in the key's bucket lists.
  const hidden = await fetch(`${harness.url}/v1/buckets/dfs-hidden`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(hidden.status, 201);
});

after(async () => {
  await harness?.stop();
  await work?.remove();
});

/** A directory of its own for one client: its HOME, its config, its files. */
async function clientDir(name: string): Promise<string> {
  const dir = join(work.path, name);
  await mkdir(join(dir, "home"), { recursive: true });
  return dir;
}

/** A tree with nested folders, names with spaces, non-ASCII letters and XML specials, an empty file. */
async function makeTree(root: string, seed: number): Promise<Map<string, string>> {
  const files: [string, Buffer][] = [
    ["top.txt", Buffer.from("top level\n")],
    ["with space.bin", patternBytes(70_000, seed)],
    ["ünïcødé ✓.txt", Buffer.from("non-ASCII names round-trip\n")],
    [`odd 'quote' & "double" <angle>.txt`, Buffer.from("XML-escaped in listings and requests\n")],
    ["nested/one.bin", patternBytes(1_500_000, seed + 1)],
    ["nested/deeper/two.bin", patternBytes(33_333, seed + 2)],
    ["nested/deeper/empty.txt", Buffer.alloc(0)],
  ];
  for (const [rel, data] of files) {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), data);
  }
  return treeDigest(root);
}

const digestOf = async (path: string) => sha256(await readFile(path));

describe("aws-cli", { skip: skipUnless("aws", "awscli") }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const aws = (...args: string[]) =>
    runClient(bins.aws!, ["--endpoint-url", endpoint, "--no-cli-pager", ...args], { env, timeoutMs: 90_000 });
  const url = (path: string) => `s3://dfs-aws/${path}`;

  before(async () => {
    dir = await clientDir("aws");
    const config = join(dir, "config");
    const credentials = join(dir, "credentials");
    await writeFile(config, `[default]\nregion = ${REGION}\ns3 =\n  addressing_style = path\n`);
    await writeFile(
      credentials,
      `[default]\naws_access_key_id = ${key.id}\naws_secret_access_key = ${key.secret}\n`,
    );
    env = {
      HOME: join(dir, "home"),
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_EC2_METADATA_DISABLED: "true",
    };
  });

  test("mb, cp up and down (small, and multipart at 20 MiB), head-object, ls, rm", async () => {
    await aws("s3", "mb", "s3://dfs-aws");
    const small = patternBytes(100_000, 3);
    const big = patternBytes(20 * MiB, 4);
    await writeFile(join(dir, "small.bin"), small);
    await writeFile(join(dir, "big.bin"), big);
    await aws("s3", "cp", join(dir, "small.bin"), url("small.bin"));
    await aws("s3", "cp", join(dir, "big.bin"), url("big/big.bin"));
    await aws("s3", "cp", url("small.bin"), join(dir, "small.back"));
    await aws("s3", "cp", url("big/big.bin"), join(dir, "big.back"));
    assert.equal(await digestOf(join(dir, "small.back")), sha256(small));
    assert.equal(await digestOf(join(dir, "big.back")), sha256(big));

    const head = JSON.parse(
      (await aws("s3api", "head-object", "--bucket", "dfs-aws", "--key", "big/big.bin")).stdout,
    ) as { ETag: string; ContentLength: number };
    assert.equal(head.ContentLength, big.length);
    // 20 MiB in aws's default 8 MiB parts: three parts, an MD5-of-MD5s ETag with its count.
    assert.match(head.ETag, /^"[0-9a-f]{32}-3"$/);
    const smallHead = JSON.parse(
      (await aws("s3api", "head-object", "--bucket", "dfs-aws", "--key", "small.bin")).stdout,
    ) as { ETag: string };
    assert.match(smallHead.ETag, /^"[0-9a-f]{32}"$/);

    const all = (await aws("s3", "ls", "--recursive", "s3://dfs-aws")).stdout;
    assert.match(all, /\b100000 small\.bin$/m);
    assert.match(all, /\b20971520 big\/big\.bin$/m);
    const byPrefix = (await aws("s3", "ls", "s3://dfs-aws/big/")).stdout;
    assert.match(byPrefix, /big\.bin$/m);
    assert.doesNotMatch(byPrefix, /small\.bin/);

    // ListBuckets shows only buckets the key holds a grant on, not dfs-hidden.
    const buckets = (await aws("s3", "ls")).stdout;
    assert.doesNotMatch(buckets, /dfs-hidden/);
    assert.match(buckets, /\bdfs-aws$/m);
    for (const line of buckets.trim().split("\n")) assert.ok(BUCKETS.includes(line.split(" ").at(-1)!), line);

    await aws("s3", "rm", url("small.bin"));
    const gone = await runClient(
      bins.aws!,
      ["--endpoint-url", endpoint, "s3api", "head-object", "--bucket", "dfs-aws", "--key", "small.bin"],
      { env, allowFailure: true },
    );
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /404|Not Found/);
    assert.equal(await digestOf(join(dir, "big.back")), sha256(big));
  });

  test("sync a tree up and back down into a new folder; rm --recursive", async () => {
    const src = join(dir, "tree");
    const want = await makeTree(src, 10);
    await aws("s3", "sync", src, url("tree"));
    const listed = (await aws("s3", "ls", "--recursive", url("tree/"))).stdout;
    for (const rel of want.keys()) assert.ok(listed.includes(`tree/${rel}`), `${rel} listed`);
    const down = join(dir, "tree-back");
    await aws("s3", "sync", url("tree"), down);
    assert.deepEqual(await treeDigest(down), want);
    // A second sync finds nothing to do: sizes and times agree.
    const again = await aws("s3", "sync", src, url("tree"));
    assert.equal(again.stdout.trim(), "");

    await aws("s3", "rm", "--recursive", url("tree"));
    const left = await aws("s3", "ls", "--recursive", "s3://dfs-aws");
    assert.doesNotMatch(left.stdout, /tree\//);
    assert.match(left.stdout, /big\/big\.bin/);
  });
  test("checksums (CRC32, CRC32C, SHA256, SHA1; a wrong one refused), a Range read, metadata, a presigned GET", async () => {
    const data = patternBytes(3 * MiB + 7, 5);
    const file = join(dir, "sums.bin");
    await writeFile(file, data);
    // aws s3 cp of this aws-cli sends no checksums; s3api put-object sends the one asked for.
    for (const algorithm of ["CRC32", "CRC32C", "SHA256", "SHA1"]) {
      const key = `sums/${algorithm}.bin`;
      const put = JSON.parse(
        (
          await aws(
            "s3api",
            "put-object",
            "--bucket",
            "dfs-aws",
            "--key",
            key,
            "--body",
            file,
            "--checksum-algorithm",
            algorithm,
          )
        ).stdout,
      ) as Record<string, string>;
      assert.ok(put[`Checksum${algorithm}`], `${algorithm} answered: ${JSON.stringify(put)}`);
      const back = join(dir, `sums-${algorithm}.back`);
      await aws(
        "s3api",
        "get-object",
        "--bucket",
        "dfs-aws",
        "--key",
        key,
        "--checksum-mode",
        "ENABLED",
        back,
      );
      assert.equal(await digestOf(back), sha256(data), algorithm);
    }
    const wrong = await runClient(
      bins.aws!,
      [
        "--endpoint-url",
        endpoint,
        "s3api",
        "put-object",
        "--bucket",
        "dfs-aws",
        "--key",
        "sums/wrong.bin",
      ].concat(["--body", file, "--checksum-crc32", "AAAAAA=="]),
      { env, allowFailure: true },
    );
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /BadDigest|InvalidRequest|XAmzContentChecksumMismatch/);
    const absent = await runClient(
      bins.aws!,
      ["--endpoint-url", endpoint, "s3api", "head-object", "--bucket", "dfs-aws", "--key", "sums/wrong.bin"],
      { env, allowFailure: true },
    );
    assert.match(absent.stderr, /404|Not Found/, "nothing is stored under a refused checksum");
    const part = join(dir, "range.back");
    await aws(
      "s3api",
      "get-object",
      "--bucket",
      "dfs-aws",
      "--key",
      "sums/CRC32.bin",
      "--range",
      "bytes=1000-1999",
      part,
    );
    assert.deepEqual(await readFile(part), data.subarray(1000, 2000));

    await aws(
      "s3",
      "cp",
      "--content-type",
      "text/plain",
      "--metadata",
      "owner=clients,kind=test",
      file,
      url("meta.txt"),
    );
    const head = JSON.parse(
      (await aws("s3api", "head-object", "--bucket", "dfs-aws", "--key", "meta.txt")).stdout,
    ) as { ContentType: string; Metadata: Record<string, string> };
    assert.equal(head.ContentType, "text/plain");
    assert.deepEqual(head.Metadata, { owner: "clients", kind: "test" });

    const signed = (await aws("s3", "presign", "--expires-in", "300", url("meta.txt"))).stdout.trim();
    const res = await fetch(signed);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(data));
  });

  test("a bucket without a grant is AccessDenied; a wrong secret is SignatureDoesNotMatch", async () => {
    const denied = await runClient(bins.aws!, ["--endpoint-url", endpoint, "s3", "mb", "s3://dfs-nogrant"], {
      env,
      allowFailure: true,
    });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /AccessDenied/);
    const wrong = join(dir, "wrong-credentials");
    await writeFile(
      wrong,
      `[default]\naws_access_key_id = ${key.id}\naws_secret_access_key = ${"x".repeat(40)}\n`,
    );
    const refused = await runClient(bins.aws!, ["--endpoint-url", endpoint, "s3", "ls", "s3://dfs-aws"], {
      env: { ...env, AWS_SHARED_CREDENTIALS_FILE: wrong },
      allowFailure: true,
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /SignatureDoesNotMatch/);
  });
});

describe("s3cmd", { skip: skipUnless("s3cmd", "s3cmd") }, () => {
  let dir: string;
  let s3cmd: (...args: string[]) => ReturnType<typeof runClient>;

  before(async () => {
    dir = await clientDir("s3cmd");
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
    dir = await clientDir("rclone");
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
    dir = await clientDir("restic");
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
