import type { Writable } from "node:stream";
import { freeNow } from "../../memory.ts";

/**
 * The plaintext pieces a download has handed to its response, freed (freeNow) as soon as none of
 * them can still be read: the body stream between them, if any, holds none (readableLength 0) and
 * the response none (writableLength 0, which counts a socket write until libuv completed it). Each piece is a
 * decipher output of its own, dead once written; left to the GC it lingers until a scavenge, and a
 * 2 GiB download would hold tens of MiB of them and run mark-compacts for them.
 *
 * Checked before each new piece goes out and whenever the response drains or finishes. A response
 * closed early (the client went away) frees nothing: a write may still be in libuv's hands, and
 * the GC reclaims those pieces as before.
 */
export class SentPieces {
  readonly #body: { readonly readableLength: number } | undefined;
  readonly #response: Writable;
  #pieces: Buffer[] = [];

  /** `body`: the stream the pieces pass through on their way to `response`, when there is one. */
  constructor(body: { readonly readableLength: number } | undefined, response: Writable) {
    this.#body = body;
    this.#response = response;
    const free = () => this.freeWritten();
    response.on("drain", free);
    response.once("finish", free);
    response.once("close", () => response.off("drain", free));
  }

  /** `piece` was just handed to the body. */
  add(piece: Buffer): void {
    this.#pieces.push(piece);
  }

  freeWritten(): void {
    if (
      this.#pieces.length === 0 ||
      (this.#body?.readableLength ?? 0) > 0 ||
      this.#response.writableLength > 0
    )
      return;
    if (this.#response.destroyed && !this.#response.writableFinished) return;
    for (const piece of this.#pieces) freeNow(piece);
    this.#pieces = [];
  }
}
