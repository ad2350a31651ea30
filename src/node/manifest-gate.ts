import type { ObjectSignatures } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import type { BodyConsumer, IncomingBody, LentPiece } from "../transport/index.ts";
import { versionOfWhole } from "./heal/versions.ts";
import type { ChunkStore } from "./store/index.ts";

/** What chainPut needs of a PUT body: the transport's IncomingBody, or a GatedBody in front of it. */
export type PutBody = Pick<IncomingBody, "size" | "consume" | "resume">;

/**
 * Manifest objects (manifests and tombstones) are versions that nodes rank by their stamp, so a
 * node stores one only when a gateway signed it: a PUT of one with a trailer that does not verify
 * is refused with DFS_ERR_FORBIDDEN, and so is an unsigned one (written before signing existed,
 * repaired from a node that still holds it) unless this node holds no copy under the id. Nothing
 * unsigned ever replaces a copy. Cost: one Ed25519 verify (cached per signature) and one SHA-256
 * of the body per manifest PUT.
 */
export class ManifestGate {
  readonly #store: ChunkStore;
  readonly #signatures: ObjectSignatures;

  constructor(store: ChunkStore, signatures: ObjectSignatures) {
    this.#store = store;
    this.#signatures = signatures;
  }

  /** Resolves when `data` may be stored under `id`; DFS_ERR_FORBIDDEN otherwise. */
  async admit(id: string, data: Buffer): Promise<void> {
    const version = versionOfWhole(id, data, this.#signatures);
    const signing = version?.signing ?? (data.length > 0 ? "unsigned" : "bad");
    if (signing === "signed") return;
    if (signing === "bad") {
      throw new DfsError("DFS_ERR_FORBIDDEN", `manifest ${id}: its signature does not verify`);
    }
    if (await this.#store.has("manifest", id)) {
      throw new DfsError("DFS_ERR_FORBIDDEN", `manifest ${id}: an unsigned copy may not replace one held`);
    }
  }

  /** The body, held back whole until `admit` passed; then handed on as it arrived. */
  gate(id: string, body: IncomingBody): PutBody {
    return new GatedBody(body, (data) => this.admit(id, data));
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
