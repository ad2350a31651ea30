import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isObjectId } from "../../formats/index.ts";
import { isNotFound, unlinkQuietly } from "./fsutil.ts";
import { TMP_MARK } from "./paths.ts";

const FANOUT_RE = /^[0-9a-f]{2}$/;

/** Sorted fan-out directory names (`ab`) of a directory; anything else there is ignored. */
async function fanoutDirs(dir: string): Promise<string[]> {
  return (await readdirOrEmpty(dir)).filter((name) => FANOUT_RE.test(name)).sort();
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * Counts the objects under one kind's root and sums their body sizes (file size minus header).
 * A file whose id `hidden` names (a newer copy is in a pack) is removed, not counted, and so is a
 * write in progress (TMP_MARK): run at open, before any write, they are what a crash left.
 * `found` is told of each object counted with its body's SHA-256: the file's header (a
 * manifest's first 32 bytes, read for it), or the id when there is no header (a chunk).
 */
export async function countObjects(
  root: string,
  header: number,
  hidden: (id: string) => boolean = () => false,
  found?: (id: string, checksum: string) => void,
): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const ab of await fanoutDirs(root)) {
    for (const cd of await fanoutDirs(join(root, ab))) {
      const dir = join(root, ab, cd);
      const ids: string[] = [];
      for (const name of await readdirOrEmpty(dir)) {
        if (name.startsWith(TMP_MARK) || (isObjectId(name) && hidden(name))) {
          await unlinkQuietly(join(dir, name));
        } else if (isObjectId(name)) ids.push(name);
      }
      const sizes = await Promise.all(
        ids.map((id) =>
          stat(join(dir, id)).then(
            (s) => (s.isFile() ? Math.max(0, s.size - header) : -1),
            () => -1, // deleted while we counted
          ),
        ),
      );
      const sums =
        found && header > 0 ? await Promise.all(ids.map((id) => headOf(join(dir, id), header))) : [];
      for (const [i, size] of sizes.entries()) {
        if (size < 0) continue;
        count++;
        bytes += size;
        if (found === undefined) continue;
        if (header === 0) found(ids[i]!, ids[i]!);
        else if (sums[i] !== undefined) found(ids[i]!, sums[i]);
      }
    }
  }
  return { count, bytes };
}

/** The first `bytes` bytes of a file as hex; undefined when it is shorter or gone. */
async function headOf(path: string, bytes: number): Promise<string | undefined> {
  const fh = await open(path, "r").catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const head = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(head, 0, bytes, 0);
    return bytesRead === bytes ? head.toString("hex") : undefined;
  } finally {
    await fh.close();
  }
}

/**
 * Ids under a kind's root in ascending order, strictly after `after`, at most `max`. The fan-out
 * directories are the ids' first characters, so whole directories before `after` are skipped
 * unread, and the walk stops as soon as it has enough.
 */
export async function listIds(root: string, after: string, max: number): Promise<string[]> {
  const out: string[] = [];
  const afterAb = after.slice(0, 2);
  const afterCd = after.slice(2, 4);
  for (const ab of await fanoutDirs(root)) {
    if (ab < afterAb) continue;
    for (const cd of await fanoutDirs(join(root, ab))) {
      if (ab === afterAb && cd < afterCd) continue;
      const ids = (await readdirOrEmpty(join(root, ab, cd))).filter((id) => isObjectId(id) && id > after);
      ids.sort();
      for (const id of ids) {
        out.push(id);
        if (out.length >= max) return out;
      }
    }
  }
  return out;
}
/** The first `max` distinct ids of two ascending lists, in order. */
export function mergeSorted(a: string[], b: string[], max: number): string[] {
  if (b.length === 0) return a;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (out.length < max && (i < a.length || j < b.length)) {
    const next = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (out.at(-1) !== next) out.push(next);
  }
  return out;
}
