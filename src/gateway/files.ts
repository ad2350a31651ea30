import { createHash } from "node:crypto";
import type { Manifest } from "../crypto/index.ts";
import { DfsError } from "../errors.ts";
import {
  FILE_HOLDERS_TABLE,
  type Files,
  HASH_API_HOLDER,
  type StoredFile,
  type StoreOptions,
} from "../names/index.ts";
import type { GatewayContext } from "./context.ts";
import { readManifest, readManifestObject } from "./download/reader.ts";
import { plaintext } from "./download/stream.ts";
import { releaseFile } from "./file-release.ts";
import type { ReadAheadBudget } from "./guards.ts";
import { MAX_CHUNKS_PER_FILE } from "./limits.ts";
import { commit } from "./upload/commit.ts";
import { UploadHolds } from "./upload/holds.ts";
import { type Ingested, ingest } from "./upload/ingest.ts";
import { cleanContentType, cleanName } from "./upload/meta.ts";

/**
 * Writes `holder` on a file before its manifest is committed or read (file-release.ts says why),
 * and tells whether the file had no holder record at all before: stored before names existed,
 * so held by the hash API (which then gets its record, once commit shows the file existed).
 */
export async function holdBeforeCommit(ctx: GatewayContext, hash: string, holder: Buffer): Promise<boolean> {
  const id = Buffer.from(ctx.cipher.manifestId(hash), "hex");
  const [before] = await Promise.all([
    ctx.tables.range(FILE_HOLDERS_TABLE, id, { limit: 2, includeDeleted: true }),
    ctx.tables.write([
      { table: FILE_HOLDERS_TABLE, partitionKey: id, sortKey: holder, value: Buffer.alloc(0) },
    ]),
  ]);
  return before.records.every((r) => r.sortKey.equals(holder));
}

/** The files of the naming service, over this gateway's ingest, commit and readers. */
export class GatewayFiles implements Files {
  readonly #ctx: GatewayContext;
  readonly #readAhead: ReadAheadBudget | undefined;

  /** `readAhead`: the gateway's budget for chunks fetched ahead of the one being sent. */
  constructor(ctx: GatewayContext, readAhead?: ReadAheadBudget) {
    this.#ctx = ctx;
    this.#readAhead = readAhead;
  }

  async store(body: AsyncIterable<Buffer>, holder: Buffer, options: StoreOptions): Promise<StoredFile> {
    const ctx = this.#ctx;
    const into = options.chunked ? { ...ctx, config: { ...ctx.config, inlineMaxBytes: 0 } } : ctx;
    const file = await ingest(into, body, options.signal);
    const expected = options.expectSha256;
    if (expected !== undefined && file.hash !== expected.hex) {
      file.holds.release();
      throw expected.mismatch();
    }
    return this.#commit(file, holder, options);
  }

  async hold(sha256: string, holder: Buffer): Promise<void> {
    const ctx = this.#ctx;
    const id = Buffer.from(ctx.cipher.manifestId(sha256), "hex");
    await ctx.tables.write([
      { table: FILE_HOLDERS_TABLE, partitionKey: id, sortKey: holder, value: Buffer.alloc(0) },
    ]);
    const current = await readManifestObject(ctx, sha256);
    if (current.type === "tombstone") {
      await ctx.tables.write([
        { table: FILE_HOLDERS_TABLE, partitionKey: id, sortKey: holder, deleted: true },
      ]);
      throw new DfsError("DFS_ERR_NOT_FOUND", `no file ${sha256}`);
    }
  }

  async release(sha256: string, holder: Buffer): Promise<void> {
    await releaseFile(this.#ctx, sha256, holder);
  }

  async read(
    sha256: string,
    range: { start: number; end: number },
    signal: AbortSignal,
  ): Promise<AsyncIterable<Buffer>> {
    const manifest = await readManifest(this.#ctx, sha256, signal);
    if (range.start < 0 || range.end >= manifest.size || range.end < range.start) {
      throw new DfsError("DFS_ERR_RANGE", `the file has ${manifest.size} bytes`, {
        details: { size: manifest.size },
      });
    }
    const pieces = plaintext(this.#ctx, manifest, range.start, range.end, signal, this.#readAhead);
    const first = await pieces.next();
    return (async function* () {
      if (first.done) return;
      yield first.value;
      yield* pieces;
    })();
  }

  /**
   * The files' chunk lists joined into one manifest, no data copied; the whole file's SHA-256 (its
   * id) from its plaintext read back once. Parts stored inside their manifest, or in larger chunks
   * than this gateway's, are copied into a new file instead.
   */
  async join(files: readonly string[], holder: Buffer, options: StoreOptions): Promise<StoredFile> {
    const ctx = this.#ctx;
    const manifests = await Promise.all(files.map((f) => readManifest(ctx, f, options.signal)));
    const byReference = manifests.every(
      (m) => m.inline === undefined && m.chunks.every((c) => c.size <= ctx.config.chunkBytes),
    );
    const size = manifests.reduce((n, m) => n + m.size, 0);
    const chunks = manifests.reduce((n, m) => n + m.chunks.length, 0);
    if (size > ctx.config.maxUploadBytes || chunks > MAX_CHUNKS_PER_FILE) {
      throw new DfsError(
        "DFS_ERR_TOO_LARGE",
        `a file is limited to ${ctx.config.maxUploadBytes} bytes and ${MAX_CHUNKS_PER_FILE} chunks`,
      );
    }
    if (!byReference) return this.store(this.#concat(manifests, options.signal), holder, options);
    const hash = createHash("sha256");
    for await (const piece of this.#concat(manifests, options.signal)) hash.update(piece);
    const file: Ingested = {
      hash: hash.digest("hex"),
      size,
      chunks: manifests.flatMap((m) => m.chunks),
      replicas: ctx.config.replicas,
      holds: new UploadHolds(ctx, () => {}),
    };
    return this.#commit(file, holder, options);
  }

  async *#concat(manifests: readonly Manifest[], signal: AbortSignal): AsyncGenerator<Buffer> {
    for (const m of manifests) {
      if (m.size > 0) yield* plaintext(this.#ctx, m, 0, m.size - 1, signal);
    }
  }

  async #commit(file: Ingested, holder: Buffer, options: StoreOptions): Promise<StoredFile> {
    const ctx = this.#ctx;
    let unheld: boolean;
    try {
      unheld = await holdBeforeCommit(ctx, file.hash, holder);
    } catch (err) {
      file.holds.release();
      throw err;
    }
    const meta = { name: cleanName(options.name), contentType: cleanContentType(options.contentType) };
    const { created } = await commit(ctx, file, meta, options.signal);
    if (unheld && !created && !holder.equals(HASH_API_HOLDER)) {
      await holdBeforeCommit(ctx, file.hash, HASH_API_HOLDER);
    }
    return { sha256: file.hash, size: file.size };
  }
}
