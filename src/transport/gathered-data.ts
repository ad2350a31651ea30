import { EMPTY, Limits } from "../protocol/index.ts";
import type { FrameSocket } from "./frame-socket.ts";

/** How long a piece waits for more to join its frame: a slow upstream's bytes still move. */
const HOLD_MS = 2;

/**
 * The DATA frames of one streamed request body whose pieces come as a socket reads them (a node
 * forwarding a chunk down its chain: often 64 KiB a read). Pieces are gathered into frames of up
 * to DATA_PIECE bytes (FrameSocket.sendDataParts), each piece written from where it lies: one
 * header and one tag per frame instead of one per read, on this side and the receiver's, and the
 * END flag on the last frame rather than a frame of its own. A frame goes once DATA_PIECE bytes
 * are held, at end(), or HOLD_MS after its first piece arrived. A piece's `written` runs once its
 * frame was sent (or the request is over).
 */
export class GatheredData {
  readonly #fs: FrameSocket;
  readonly #requestId: number;
  readonly #wholeChunk: boolean;
  readonly #alive: () => boolean;
  #held: Buffer[] = [];
  #written: (() => void)[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `alive`: false once the request is over, when pieces are dropped (their `written` runs). */
  constructor(fs: FrameSocket, requestId: number, wholeChunk: boolean, alive: () => boolean) {
    this.#fs = fs;
    this.#requestId = requestId;
    this.#wholeChunk = wholeChunk;
    this.#alive = alive;
  }

  /** False when the caller should wait for the socket to drain. */
  write(piece: Buffer, written?: () => void): boolean {
    if (this.#bytes + piece.length > Limits.MAX_DATA_BODY) this.flush(false);
    this.#held.push(piece);
    if (written) this.#written.push(written);
    this.#bytes += piece.length;
    if (this.#bytes >= Limits.DATA_PIECE) return this.flush(false);
    this.#timer ??= setTimeout(() => this.flush(false), HOLD_MS);
    return !this.#fs.socket.writableNeedDrain;
  }

  /** Sends what is held; `end`: as the stream's last frame (an empty one if nothing is held). */
  flush(end: boolean): boolean {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const parts = this.#held;
    const callbacks = this.#written;
    this.#held = [];
    this.#written = [];
    this.#bytes = 0;
    const written =
      callbacks.length === 0
        ? undefined
        : () => {
            for (const w of callbacks) w();
          };
    if (!this.#alive()) {
      written?.();
      return true;
    }
    const fs = this.#fs;
    if (parts.length > 0) return fs.sendDataParts(this.#requestId, parts, end, written, this.#wholeChunk);
    return end ? fs.sendData(this.#requestId, EMPTY, true, undefined, this.#wholeChunk) : true;
  }
}
