import { randomBytes } from "node:crypto";
import { toDfsError } from "../../errors.ts";
import {
  CHUNK_REFS_TABLE,
  manifestRef,
  manifestRefKey,
  type TableRecord,
  uploadHold,
  uploadHoldKey,
} from "../../formats/index.ts";
import type { RecordWrite } from "../../tables/index.ts";
import type { GatewayContext } from "../context.ts";

/**
 * An upload's hold on the chunks it writes (table chunk_refs, ARCHITECTURE.md "Chunk references
 * and garbage collection"). Each chunk's PUT carries a hold under this upload's random id, with a
 * lease; while the upload runs, the holds of every chunk written so far are renewed at a third of
 * the lease, so the nodes never collect a chunk of an upload in progress, however long it lasts.
 * A renewal that cannot reach W owners fails the upload. The manifest's references are written
 * before the manifest (reference()); the holds are then retracted (release()).
 */
export class UploadHolds {
  readonly uploadId = randomBytes(32).toString("hex");
  readonly #ctx: GatewayContext;
  readonly #chunks = new Set<string>();
  readonly #onFailure: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  /** `onFailure`: a renewal failed; the upload must stop. */
  constructor(ctx: GatewayContext, onFailure: (err: unknown) => void) {
    this.#ctx = ctx;
    this.#onFailure = onFailure;
  }

  /** The hold a PUT of `chunkId` carries; renewed from now on with the others. */
  recordFor(chunkId: string): TableRecord {
    this.#chunks.add(chunkId);
    if (this.#timer === undefined) {
      const every = Math.max(1, Math.floor(this.#ctx.config.uploadLeaseMs / 3));
      this.#timer = setInterval(() => this.#renew(), every);
      this.#timer.unref();
    }
    return this.#ctx.tables.stamp([this.#hold(chunkId)])[0]!;
  }

  /**
   * Writes the references of manifest version `version` (the SHA-256 of the stored manifest object)
   * under `manifestId` to every chunk's owners, each at W: called before the manifest is written,
   * so a visible file's chunks are always referenced.
   */
  async reference(chunkIds: readonly string[], version: string, manifestId: string): Promise<void> {
    await this.#ctx.tables.write(
      [...new Set(chunkIds)].map((id) => ({
        table: CHUNK_REFS_TABLE,
        partitionKey: Buffer.from(id, "hex"),
        ...manifestRef(version, manifestId),
      })),
    );
  }

  /** Stops renewing and retracts the holds in the background (they would lapse with their lease anyway). */
  release(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#chunks.size === 0) return;
    const ids = [...this.#chunks];
    this.#chunks.clear();
    const retractions = ids.map(
      (id): RecordWrite => ({
        table: CHUNK_REFS_TABLE,
        partitionKey: Buffer.from(id, "hex"),
        sortKey: uploadHoldKey(this.uploadId),
        deleted: true,
      }),
    );
    this.#ctx.tables.write(retractions).catch((err: unknown) => {
      this.#ctx.logger.warn(
        { uploadId: this.uploadId, code: toDfsError(err).code },
        "an upload's holds could not be retracted; their lease ends them",
      );
    });
  }

  #hold(chunkId: string): RecordWrite {
    return {
      table: CHUNK_REFS_TABLE,
      partitionKey: Buffer.from(chunkId, "hex"),
      ...uploadHold(this.uploadId, Date.now() + this.#ctx.config.uploadLeaseMs),
    };
  }

  #renew(): void {
    if (this.#renewing !== undefined || this.#chunks.size === 0) return;
    const writes = [...this.#chunks].map((id) => this.#hold(id));
    this.#renewing = this.#ctx.tables
      .write(writes)
      .then(
        () => undefined,
        (err: unknown) => {
          clearInterval(this.#timer);
          this.#onFailure(err);
        },
      )
      .finally(() => {
        this.#renewing = undefined;
      });
  }
}

/** Retracts manifest version `version`'s references to `chunkIds` (a deleted file's), each at W. */
export async function retractReferences(
  ctx: GatewayContext,
  chunkIds: readonly string[],
  version: string,
): Promise<void> {
  await ctx.tables.write(
    [...new Set(chunkIds)].map((id) => ({
      table: CHUNK_REFS_TABLE,
      partitionKey: Buffer.from(id, "hex"),
      sortKey: manifestRefKey(version),
      deleted: true,
    })),
  );
}
