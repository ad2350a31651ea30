/**
 * What the naming service needs of stored files (the gateway implements it over its ingest,
 * commit and readers: src/gateway/files.ts). Every file is held by holders (holders.ts); a file
 * no holder holds is deleted, and its chunks collected after the grace.
 */
export interface StoredFile {
  /** SHA-256 hex of the bytes: the file id. */
  sha256: string;
  size: number;
}

export interface StoreOptions {
  contentType: string;
  /** The name kept in a manifest this store creates. */
  name: string;
  signal: AbortSignal;
  /** Never store the bytes inside the manifest (parts to be joined by their chunk lists). */
  chunked?: boolean;
  /** The SHA-256 the body must have (a client's signed digest), checked against the file id. */
  expectSha256?: Sha256Check | undefined;
}

/**
 * A SHA-256 a client declared for a body. The store computes every body's SHA-256 anyway (it is
 * the file id), so the check costs no pass of its own: a mismatch fails the store before the
 * file is committed, with `mismatch()`, and nothing becomes visible.
 */
export interface Sha256Check {
  hex: string;
  mismatch: () => Error;
}

export interface Files {
  /**
   * Stores the body as a file held by `holder`: the holder record is written (at W) before the
   * manifest is read or written, so a concurrent release of the same file cannot delete it.
   * Nothing is visible when the body fails (a DfsError thrown by the body passes through).
   */
  store(body: AsyncIterable<Buffer>, holder: Buffer, options: StoreOptions): Promise<StoredFile>;
  /** Holds an existing file under `holder` too; DFS_ERR_NOT_FOUND when it is gone (the hold is then retracted). */
  hold(sha256: string, holder: Buffer): Promise<void>;
  /**
   * Retracts `holder`; when no holder is left, deletes the file (tombstone, then a second look
   * at the holders that brings the file back if one appeared, then the chunk references retracted).
   */
  release(sha256: string, holder: Buffer): Promise<void>;
  /** Plaintext bytes [start, end] of a file; the first piece is read before this resolves. */
  read(
    sha256: string,
    range: { start: number; end: number },
    signal: AbortSignal,
  ): Promise<AsyncIterable<Buffer>>;
  /** One file made of the given files' bytes in order (their chunk lists joined), held by `holder`. */
  join(files: readonly string[], holder: Buffer, options: StoreOptions): Promise<StoredFile>;
}
