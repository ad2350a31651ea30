import { join } from "node:path";
import { DfsError } from "../../errors.ts";
import { isObjectId, type ObjectKind } from "../../formats/index.ts";
import type { WriteRequest } from "./types.ts";

/** A manifest file starts with the raw SHA-256 of its body, so a node can scrub it without keys. */
export const MANIFEST_HEADER_BYTES = 32;

/** Names of writes in progress, beside the object each will become: never an id (64 hex). */
export const TMP_MARK = ".tmp-";

/** Every id is checked before it becomes part of a path: no "..", no "/", nothing but 64 hex. */
export function assertObjectId(value: unknown, what = "id"): asserts value is string {
  if (!isObjectId(value)) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", `${what} must be 64 lowercase hex characters (a SHA-256)`);
  }
}

export function assertKind(kind: unknown): asserts kind is ObjectKind {
  if (kind !== "chunk" && kind !== "manifest") {
    throw new DfsError("DFS_ERR_BAD_REQUEST", `unknown object kind: ${String(kind)}`);
  }
}

/**
 * Checks a write's request against the rules and the size limit; returns the SHA-256 its body
 * must have (a chunk's id, a manifest's checksum).
 */
export function checkWrite(request: WriteRequest, maxObjectBytes: number): string {
  const { kind, id, size, checksum } = request;
  assertKind(kind);
  assertObjectId(id);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", `size must be a non-negative integer, got ${size}`);
  }
  let expectedHash = id;
  if (kind === "manifest") {
    assertObjectId(checksum, "a manifest's checksum");
    expectedHash = checksum;
  } else if (checksum !== undefined && checksum !== id) {
    throw new DfsError("DFS_ERR_BAD_REQUEST", "a chunk's checksum, when given, must equal its id");
  }
  if (size > maxObjectBytes) {
    throw new DfsError(
      "DFS_ERR_TOO_LARGE",
      `object of ${size} bytes exceeds the limit of ${maxObjectBytes}`,
      {
        details: { maxObjectBytes },
      },
    );
  }
  return expectedHash;
}

export function headerBytes(kind: ObjectKind): number {
  return kind === "manifest" ? MANIFEST_HEADER_BYTES : 0;
}

/** Where everything lives under the data dir (see the layout comment in index.ts). */
export class DataPaths {
  readonly dataDir: string;
  readonly tmp: string;
  readonly quarantine: string;
  readonly packs: string;
  readonly nodeIdFile: string;
  readonly #roots: Record<ObjectKind, string>;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.tmp = join(dataDir, "tmp");
    this.quarantine = join(dataDir, "quarantine");
    this.packs = join(dataDir, "packs");
    this.nodeIdFile = join(dataDir, "node-id");
    this.#roots = { chunk: join(dataDir, "chunks"), manifest: join(dataDir, "manifests") };
  }

  root(kind: ObjectKind): string {
    return this.#roots[kind];
  }

  /** The fan-out directory `<root>/ab/cd` of a validated id. */
  dirOf(kind: ObjectKind, id: string): string {
    return join(this.#roots[kind], id.slice(0, 2), id.slice(2, 4));
  }

  /** The object's path; the id must have been validated (assertObjectId) by the caller. */
  pathOf(kind: ObjectKind, id: string): string {
    return join(this.dirOf(kind, id), id);
  }

  quarantinePathOf(kind: ObjectKind, id: string): string {
    return join(this.quarantine, `${kind}-${id}`);
  }
}
