import assert from "node:assert/strict";
import { type ErrorCode, isDfsError } from "../../src/errors.ts";
import type { ObjectStore, ObjectWriter } from "../../src/node/store/index.ts";
import type { ObjectKind } from "../../src/transport/api.ts";
import { readAll } from "./data.ts";

const KiB = 1024;

/** For assert.rejects: the error is a DfsError with `code`. */
export function rejectsWith(code: ErrorCode) {
  return (err: unknown) => {
    assert.ok(isDfsError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  };
}

/** Resolves when `w` can take more, or has closed. */
function drained(w: ObjectWriter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off("drain", done);
      w.off("close", done);
      resolve();
    };
    w.on("drain", done);
    w.on("close", done);
  });
}

/**
 * Writes pieces with backpressure, as a socket handler would, then commits. `vouched`: the writer
 * is made with `hashLater` and committed with the promise it makes then (a node inside a chain).
 */
export async function put(
  store: ObjectStore,
  kind: ObjectKind,
  id: string,
  pieces: Iterable<Buffer>,
  size: number,
  checksum?: string,
  vouched?: () => Promise<boolean>,
): Promise<void> {
  const w = await store.createWriter({ kind, id, size, checksum, hashLater: vouched !== undefined });
  for (const piece of pieces) {
    if (w.destroyed) break;
    if (!w.write(piece)) await drained(w);
  }
  await w.commit(vouched?.());
}

/** `data` in pieces of `pieceBytes`, as a socket delivers it. */
export function* piecesOf(data: Buffer, pieceBytes = 256 * KiB): Generator<Buffer> {
  for (let i = 0; i < data.length; i += pieceBytes) yield data.subarray(i, i + pieceBytes);
}

/** An object's announced size and the bytes of the range read. */
export async function readRange(
  store: ObjectStore,
  kind: ObjectKind,
  id: string,
  offset?: number,
  length?: number,
) {
  const { size, body } = await store.createReader(kind, id, { offset, length });
  return { size, bytes: await readAll(body) };
}
