import fs from "node:fs";
import { unlink } from "node:fs/promises";

export { fsyncDir } from "./dir-sync.ts";

/** Removes a file that may already be gone. */
export async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/**
 * Serialises work per key (one object path), so that check-then-rename and delete keep the
 * counters exact when two writers of the same id, or a writer and a delete, meet.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous ? previous.then(() => mine) : mine;
    this.#tails.set(key, tail);
    if (previous) await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** Raw descriptors for the hot write path (no FileHandle: it would close the fd when collected). */
export function openFd(path: string, flags: string, mode: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * Writes every byte of `buffers` (`total` of them) at `position`, or at the file's offset when
 * null, continuing after short writes (rare, but legal, near a full disk).
 */
export function writeAll(
  fd: number,
  buffers: Buffer[],
  total: number,
  position: number | null,
  done: (err: Error | null) => void,
): void {
  const onWritten = (err: Error | null, written: number) => {
    if (err) return done(err);
    if (written === total) return done(null);
    const next = position === null ? null : position + written;
    writeAll(fd, skipBytes(buffers, written), total - written, next, done);
  };
  if (buffers.length === 1) fs.write(fd, buffers[0]!, 0, total, position, onWritten);
  else fs.writev(fd, buffers, position, onWritten);
}

function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  let skip = n;
  while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (skip > 0 && rest[0]) rest[0] = rest[0].subarray(skip);
  return rest;
}

/** A callback-style call as a promise. */
export function call(fn: (cb: (err: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}
