import type { ObjectSignatures } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import { wins } from "../formats/index.ts";
import type { BodyConsumer, IncomingBody, LentPiece } from "../transport/index.ts";
import { localCopy } from "./heal/objects.ts";
import { copyOfWhole } from "./heal/versions.ts";
import type { ObjectStore } from "./store/index.ts";

/** What chainPut needs of a PUT body: the transport's IncomingBody, or a GatedBody in front of it. */
export type PutBody = Pick<IncomingBody, "size" | "consume" | "resume">;

/**
 * Manifest objects (manifests and tombstones) are versions that nodes rank by their stamp, and a
 * PUT replaces the copy a node holds. So a PUT that would replace a copy must bring a version a
 * gateway signed (src/credentials/object-signature.ts), and not one older than a signed copy held
 * here: anything else is refused with DFS_ERR_FORBIDDEN. A PUT under an id this node holds
 * nothing of replaces nothing and is taken unchecked (uploads, the hot path, cost no verify);
 * repair checks such a copy when it ranks it against another (heal/versions.ts). Cost on the
 * replacing path: a SHA-256 of the body and one Ed25519 verify (cached per signature).
 */
export class ManifestGate {
  readonly #store: ObjectStore;
  readonly #signatures: ObjectSignatures;

  constructor(store: ObjectStore, signatures: ObjectSignatures) {
    this.#store = store;
    this.#signatures = signatures;
  }

  /**
   * The body to store: as it came when this node holds nothing under `id` (the PUT replaces
   * nothing, and a body held back would only delay it), else held back whole until
   * `checkReplacement` passed, then handed on as it arrived.
   */
  async gate(id: string, body: IncomingBody): Promise<PutBody> {
    if (!this.#store.holdsNow("manifest", id)) return body;
    return new GatedBody(body, (data) => this.checkReplacement(id, data));
  }

  /** Resolves when `data` may replace the copy held under `id`; DFS_ERR_FORBIDDEN otherwise. */
  async checkReplacement(id: string, data: Buffer): Promise<void> {
    const incoming = copyOfWhole(id, data, this.#signatures);
    if (incoming === undefined || incoming.signing !== "signed") {
      const why =
        incoming?.signing === "unsigned" ? "an unsigned copy" : "a copy whose signature does not verify";
      throw new DfsError("DFS_ERR_FORBIDDEN", `manifest ${id}: ${why} may not replace the one held`);
    }
    const held = await localCopy(this.#store, id, this.#signatures).catch(() => undefined);
    if (held !== undefined && held.signing === "signed" && wins(held.header, incoming.header)) {
      throw new DfsError("DFS_ERR_FORBIDDEN", `manifest ${id}: an older version may not replace a newer one`);
    }
  }
}

class GatedBody implements PutBody {
  readonly size: number;
  readonly #inner: IncomingBody;
  readonly #admit: (data: Buffer) => Promise<void>;
  #released = false;

  constructor(inner: IncomingBody, admit: (data: Buffer) => Promise<void>) {
    this.size = inner.size;
    this.#inner = inner;
    this.#admit = admit;
  }

  consume(consumer: BodyConsumer): void {
    const held: LentPiece[] = [];
    const drop = () => {
      for (const p of held) p.release();
      held.length = 0;
    };
    this.#inner.consume({
      piece: (piece) => {
        held.push(piece.retain());
        return true;
      },
      abort: (err) => {
        drop();
        consumer.abort(err);
      },
      end: () => {
        const data = Buffer.concat(held.map((p) => p.bytes));
        this.#admit(data).then(
          () => {
            this.#released = true;
            for (const p of held) {
              consumer.piece(p);
              p.release();
            }
            held.length = 0;
            consumer.end();
          },
          (err: unknown) => {
            drop();
            consumer.abort(err instanceof DfsError ? err : new DfsError("DFS_ERR_INTERNAL", String(err)));
          },
        );
      },
    });
  }

  resume(): void {
    if (!this.#released) this.#inner.resume();
  }
}
