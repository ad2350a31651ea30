/**
 * aws-cli (Debian's awscli) against the S3 listener of a gateway over a real cluster (Redis under
 * Sentinel, three `dfs node` processes), signing with an access key kept in the cluster that holds
 * grants on its bucket only: cp (multipart too), sync, ls, rm, s3api calls. Every step checks the
 * bytes. Skipped with a message when aws is missing; .ci/run installs it.
 */
import assert from "node:assert/strict";
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
  aws: findClient("aws"),
};
const skipUnless = (name: keyof typeof bins, pkg: string) =>
  skipWithout(bins[name] === undefined ? [pkg] : []);

let cluster: ClientsCluster;
let endpoint: string;
let key: { id: string; secret: string };

before(async () => {
  cluster = await startClientsCluster("s3clients-aws:", ["dfs-aws"]);
  endpoint = cluster.endpoint;
  key = cluster.key;
});

after(async () => {
  await cluster?.stop();
});

describe("aws-cli", { skip: skipUnless("aws", "awscli") }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const aws = (...args: string[]) =>
    runClient(bins.aws!, ["--endpoint-url", endpoint, "--no-cli-pager", ...args], { env, timeoutMs: 90_000 });
  const url = (path: string) => `s3://dfs-aws/${path}`;

  before(async () => {
    dir = await cluster.clientDir("aws");
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
    assert.doesNotMatch(buckets, new RegExp(HIDDEN_BUCKET));
    assert.match(buckets, /\bdfs-aws$/m);
    assert.deepEqual(
      buckets
        .trim()
        .split("\n")
        .map((line) => line.split(" ").at(-1)),
      ["dfs-aws"],
    );

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
