/**
 * The README's S3 examples (aws-cli and rclone), run as written against `dfs dev` (the `npm start` cluster):
 * only the endpoint's port differs, since tests take free ports. Skipped, with a message, when
 * aws-cli or rclone is missing (.ci/run installs them).
 */
import assert from "node:assert/strict";
import { cp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findClient, runClient, skipWithout, treeDigest } from "./helpers/clients.ts";
import { sha256 } from "./helpers/data.ts";
import { CLI, type Proc, REPO_ROOT, startProcess } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const README_ENDPOINT = "http://127.0.0.1:9000";
const aws = findClient("aws");
const rclone = findClient("rclone");
const missing = [aws === undefined ? "awscli" : "", rclone === undefined ? "rclone" : ""].filter((p) => p);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The shell blocks of the README's "### S3" part, in order. */
function s3Blocks(readme: string): string[] {
  const start = readme.indexOf("\n### S3\n");
  assert.ok(start >= 0, "the README has an S3 part");
  const rest = readme.slice(start + 1);
  const next = rest.search(/\n##+ /);
  const part = next < 0 ? rest : rest.slice(0, next);
  return [...part.matchAll(/^```\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe("README: S3 clients against dfs dev", {
  skip: skipWithout(missing),
}, () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let dev: Proc;
  let endpoint = "";
  let blocks: string[] = [];

  before(async () => {
    dir = await makeTempDir("dfs-readme-s3-");
    blocks = s3Blocks(await readFile(join(REPO_ROOT, "README.md"), "utf8"));
    dev = startProcess([
      CLI,
      "dev",
      "--data",
      join(dir.path, "data"),
      "--port",
      String(await freePort()),
      "--s3-port",
      String(await freePort()),
    ]);
    const line = await dev.waitForLog(
      (l) => typeof l.msg === "string" && l.msg.startsWith("S3 API: "),
      90_000,
    );
    endpoint = String(line.msg).split(" ")[2]!;
    assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const work = join(dir.path, "work");
    await cp(join(REPO_ROOT, "README.md"), join(work, "README.md"));
    await cp(join(REPO_ROOT, "docs"), join(work, "docs"), { recursive: true });
  });

  after(async () => {
    await dev?.stop("SIGTERM", 20_000);
    await dir?.remove();
  });

  /** Runs one README block in bash, in the work folder, with HOME there too. */
  const runBlock = (block: string) => {
    assert.ok(block.includes(README_ENDPOINT), "the example names the endpoint npm start serves");
    const script = block.replaceAll(README_ENDPOINT, endpoint);
    const home = join(dir.path, "home");
    const path = [dirname(aws!), dirname(rclone!), process.env.PATH ?? ""].join(":");
    return runClient("/bin/bash", ["-e", "-o", "pipefail", "-c", script], {
      cwd: join(dir.path, "work"),
      env: { PATH: path, HOME: home, AWS_CONFIG_FILE: join(home, "none"), RCLONE_CONFIG: join(home, "none") },
      timeoutMs: 90_000,
    });
  };

  test("the aws-cli example makes a bucket, copies README.md up and back, same bytes", async () => {
    assert.equal(blocks.length, 2);
    const out = await runBlock(blocks[0]!);
    assert.match(out.stdout, /README\.md/);
    const readme = await readFile(join(dir.path, "work", "README.md"));
    assert.equal(sha256(await readFile(join(dir.path, "work", "README.copy"))), sha256(readme));
  });

  test("the rclone example copies docs/, checks it (0 differences) and lists it", async () => {
    const out = await runBlock(blocks[1]!);
    assert.match(out.stderr, /0 differences found/);
    const docs = await treeDigest(join(dir.path, "work", "docs"));
    const listed = out.stdout.split("\n").filter((l) => l !== "" && !l.endsWith("/"));
    assert.deepEqual(listed.sort(), ["README.md", ...[...docs.keys()].map((k) => `docs/${k}`)].sort());
  });
});
