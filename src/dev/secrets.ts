import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";

/**
 * A development secret kept in a file: created once (mode 0600, never overwritten), then read on
 * every start, so a restarted dev cluster can still decrypt what it stored before.
 */
export async function devSecret(path: string, make: () => string): Promise<string> {
  try {
    await writeFile(path, `${make()}\n`, { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return (await readFile(path, "utf8")).trim();
}

export const newKey = (): string => randomBytes(32).toString("hex");
export const newSecret = (): string => randomBytes(24).toString("base64url");
