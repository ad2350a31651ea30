/** What nodes store and serve, as every layer names it. */

/** A stored object is either a chunk (id = SHA-256 of its bytes) or a manifest (id chosen by the gateway). */
export type ObjectKind = "chunk" | "manifest";

/** One page of the ids a node holds, in ascending order. */
export interface ListPage {
  ids: string[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/**
 * An object's bytes for reads into the caller's buffers: the store opens one, the transport pulls
 * a GET's bytes from it into buffers it owns (and reuses), so serving a chunk allocates nothing per
 * read.
 */
export interface ObjectSource {
  /** Fills the start of `into` with the next bytes; resolves how many (0 only past the end). */
  read(into: Buffer): Promise<number>;
  /** Releases what it holds (the file); idempotent. The transport calls it once, whether the stream completed or not. */
  close(): Promise<void>;
}
