import { randomBytes } from "node:crypto";
import { link, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DfsError } from "../../errors.ts";
import { fsyncDir, unlinkQuietly } from "./fsutil.ts";

const NODE_ID_RE = /^[0-9a-f]{32}$/;

/**
 * Reads this node's id, or creates it once: 16 random bytes as 32 lowercase hex. The id decides
 * placement, so it must survive restarts and never be half-written. It is written to a temp file,
 * synced, then hard-linked into place: link() fails when the file exists, so two racing starts
 * agree on one id, and a crash leaves either no file or a whole one.
 */
export async function loadOrCreateNodeId(file: string, tmpDir: string): Promise<string> {
  const existing = await readNodeId(file);
  if (existing !== undefined) return existing;

  const id = randomBytes(16).toString("hex");
  const tmp = join(tmpDir, `${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    await writeFile(tmp, `${id}\n`, { flag: "wx", flush: true });
    await link(tmp, file);
    await fsyncDir(dirname(file));
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const winner = await readNodeId(file);
    if (winner === undefined) throw err;
    return winner;
  } finally {
    await unlinkQuietly(tmp);
  }
}

async function readNodeId(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const id = text.trim();
  if (!NODE_ID_RE.test(id)) {
    throw new DfsError("DFS_ERR_CONFIG", `${file} does not hold a node id (32 lowercase hex characters)`);
  }
  return id;
}
