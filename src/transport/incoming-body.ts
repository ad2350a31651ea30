import { DfsError } from "../errors.ts";
import { type LentPiece, slabs } from "./slabs.ts";

/**
 * Where a PUT body goes, piece by piece, as it arrives. Pieces are lent (slabs.ts): retain one to
 * keep it past the call, and release what you retained once done with it.
 */
export interface BodyConsumer {
  /** The next piece. Return false to ask for a pause; call IncomingBody.resume() when ready again. */
  piece(piece: LentPiece): boolean;
  /** Every declared byte arrived (the END frame). */
  end(): void;
  /** The body will never complete: cancelled, connection lost, or too many bytes. Called at most once. */
  abort(err: DfsError): void;
}

/** The failure of a body that completed and whose request is over: nobody is told about it. */
const DONE = new DfsError("DFS_ERR_CANCELLED", "request over");

/** Bytes buffered for a handler that has not started consuming yet (it may be opening a file). */
const EARLY_BYTES = 1024 * 1024;

/**
 * The body of one PUT on the server: the session feeds it from the socket, the handler consumes
 * it. Pieces that arrive before the handler calls consume() wait here (up to EARLY_BYTES, then the
 * socket is paused). Backpressure is the consumer's return value: false pauses the connection
 * until resume(). Pieces already read from the socket may still arrive after a pause.
 */
export class IncomingBody {
  readonly size: number;
  readonly #resume: () => void;
  #consumer: BodyConsumer | undefined;
  #early: LentPiece[] = [];
  #earlyBytes = 0;
  #ended = false;
  #failure: DfsError | undefined;

  /** `resume` lets the socket read again; the session pauses it when push() returns false. */
  constructor(size: number, resume: () => void) {
    this.size = size;
    this.#resume = resume;
  }

  /** Starts delivery to `consumer` (once): what arrived early first, then the rest as it comes. */
  consume(consumer: BodyConsumer): void {
    if (this.#consumer) throw new Error("a body is consumed once");
    this.#consumer = consumer;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    let more = true;
    for (const piece of early) {
      if (this.#failure === undefined) more = consumer.piece(piece) && more;
      piece.release();
    }
    if (this.#failure !== undefined) return consumer.abort(this.#failure);
    if (this.#ended) return consumer.end();
    if (more) this.#resume();
  }

  /** Asks the session to read from the socket again (after a piece() that returned false). */
  resume(): void {
    if (this.#failure === undefined) this.#resume();
  }

  /** @internal From the session: a view valid only during this call. False: pause the socket. */
  push(view: Buffer): boolean {
    if (this.#failure !== undefined || this.#ended) return true;
    const piece = slabs.copy(view);
    const consumer = this.#consumer;
    if (!consumer) {
      this.#early.push(piece);
      this.#earlyBytes += piece.length;
      return this.#earlyBytes < EARLY_BYTES;
    }
    const more = consumer.piece(piece);
    piece.release();
    return more;
  }

  /** @internal From the session: the END frame arrived. */
  end(): void {
    if (this.#failure !== undefined || this.#ended) return;
    this.#ended = true;
    this.#consumer?.end();
  }

  /**
   * @internal From the session: the body will not complete (or the request is over: no `err`).
   * Idempotent; drops pieces that were waiting.
   */
  fail(err?: DfsError): void {
    if (this.#failure !== undefined) return;
    // An error (with its stack) is built only when a consumer will hear of it.
    this.#failure = err ?? (this.#ended ? DONE : new DfsError("DFS_ERR_CANCELLED"));
    for (const piece of this.#early) piece.release();
    this.#early = [];
    this.#earlyBytes = 0;
    if (!this.#ended) this.#consumer?.abort(this.#failure);
  }
}
