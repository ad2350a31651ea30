/**
 * The setting of the real-client tests (test/s3-clients.test.ts, test/s3-clients-aws.test.ts): a
 * cluster with an S3 listener whose gateway has keys, one access key with grants on the buckets
 * the clients use and on no other, a bucket it holds no grant on, a temp folder per client, and a
 * test tree of files.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { treeDigest } from "./clients.ts";
import { patternBytes, sha256 } from "./data.ts";
import { ADMIN, startS3Harness } from "./s3.ts";
import { makeTempDir } from "./tmp.ts";

export const REGION = "us-east-1";
export const MiB = 1024 * 1024;
/** A bucket that exists but the clients' key holds no grant on. */
export const HIDDEN_BUCKET = "dfs-hidden";

export interface ClientsCluster {
  /** http://host:port of the S3 listener. */
  endpoint: string;
  key: { id: string; secret: string };
  /** A folder of its own for one client (with a HOME inside), removed by stop(). */
  clientDir(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** `buckets`: the buckets the key gets read, write and owner grants on. */
export async function startClientsCluster(
  prefix: string,
  buckets: readonly string[],
): Promise<ClientsCluster> {
  const work = await makeTempDir("dfs-s3clients-");
  const harness = await startS3Harness(true, prefix).catch(async (err: unknown) => {
    await work.remove();
    throw err;
  });
  try {
    const key = await harness.createKey(
      buckets.map((bucket) => ({ bucket, read: true, write: true, owner: true })),
    );
    const hidden = await fetch(`${harness.url}/v1/buckets/${HIDDEN_BUCKET}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(hidden.status, 201);
    return {
      endpoint: harness.endpoint,
      key,
      async clientDir(name) {
        const dir = join(work.path, name);
        await mkdir(join(dir, "home"), { recursive: true });
        return dir;
      },
      async stop() {
        await harness.stop();
        await work.remove();
      },
    };
  } catch (err) {
    await harness.stop();
    await work.remove();
    throw err;
  }
}

/** A tree with nested folders, names with spaces, non-ASCII letters and XML specials, an empty file. */
export async function makeTree(root: string, seed: number): Promise<Map<string, string>> {
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

export const digestOf = async (path: string): Promise<string> => sha256(await readFile(path));
