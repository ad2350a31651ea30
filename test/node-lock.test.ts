/**
 * The data directory's lock is a kernel file lock (src/node/store/dir-lock.ts): it holds across
 * PID namespaces, and the kernel frees it when its holder dies, even by SIGKILL.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startNode, TEST_AUTHORITY_KEY, TEST_SECRET, testNodeClient } from "./helpers/cluster.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { CLI, REPO_ROOT } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

/** Why a PID namespace cannot be made here, or undefined when it can (root and unshare work). */
function noPidNamespace(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root for unshare --pid";
  const probe = spawnSync("unshare", ["--pid", "--fork", "--kill-child", "--mount-proc", "true"], {
    stdio: "ignore",
  });
  if (probe.error || probe.status !== 0) return "unshare --pid is not available here";
  return undefined;
}

describe("the data directory's lock", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  const client = testNodeClient();

  before(async () => {
    dir = await makeTempDir();
  });
  after(async () => {
    await client.close();
    await dir.remove();
  });

  test("a second node on the same data directory in another PID namespace is refused", {
    skip: noPidNamespace(),
  }, async () => {
    const dataDir = join(dir.path, "shared");
    const first = await startNode({ dataDir });
    try {
      // The second node is PID 1 of its own namespace, as in a container sharing the volume.
      const second = spawn(
        "unshare",
        [
          "--pid",
          "--fork",
          "--kill-child",
          "--mount-proc",
          process.execPath,
          CLI,
          "node",
          "--listen",
          "127.0.0.1:0",
          "--data",
          dataDir,
        ],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            DFS_CLUSTER_SECRET: TEST_SECRET,
            DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY,
            DFS_RESERVE: "0",
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let said = "";
      second.stdout.setEncoding("utf8").on("data", (d: string) => (said += d));
      second.stderr.setEncoding("utf8").on("data", (d: string) => (said += d));
      const timer = setTimeout(() => second.kill("SIGKILL"), 20_000);
      const [code] = await once(second, "exit");
      clearTimeout(timer);
      assert.notEqual(code, 0, `the second node did not exit with an error: ${said}`);
      assert.match(said, /DFS_ERR_DATA_DIR_LOCKED/);
      assert.doesNotMatch(said, /node listening/);
      // The first one is untouched and serving.
      assert.equal((await client.ping(first.addr)).nodeId, first.nodeId);
    } finally {
      await first.stop("SIGKILL");
    }
  });

  test("a node SIGKILLed leaves no lock: the next node starts on its directory at once", async () => {
    const dataDir = join(dir.path, "killed");
    const first = await startNode({ dataDir });
    const data = patternBytes(70_000, 5);
    await client.put(first.addr, sha256(data), data, data.length);
    await first.stop("SIGKILL");
    const second = await startNode({ dataDir });
    try {
      assert.equal(second.nodeId, first.nodeId, "the same directory, the same node");
      assert.ok((await client.getBuffer(second.addr, sha256(data))).equals(data));
    } finally {
      await second.stop("SIGKILL");
    }
  });
});
