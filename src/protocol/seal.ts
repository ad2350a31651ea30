import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type DecipherGCM,
  type KeyObject,
} from "node:crypto";
import { DfsError } from "../errors.ts";
import { TAG_BYTES } from "./frame.ts";

/**
 * Frame protection after the handshake: AES-256-GCM, one key per direction, the nonce a counter.
 *
 *   nonce = 4 zero bytes || u64 BE count of frames sent before this one in this direction
 *
 * A control frame's body is GCM(key, nonce, aad = header, plaintext) = ciphertext || tag. A DATA
 * frame's body is its bytes in the clear, then GCM(key, nonce, aad = header || bytes, empty): a
 * GMAC. Chunk bytes are ciphertext already and every receiver checks them against their id; the
 * tag still makes any change to them a broken link, at GHASH speed (docs/protocol.md has the
 * measurements). The counter is never sent: a receiver expects exactly the next one, so a replayed,
 * reordered, dropped or reflected frame (the other direction has another key) fails its tag.
 */
const ALGORITHM = "aes-256-gcm";
/** Far below 2^64; a connection this old is closed rather than wrap. */
const MAX_FRAMES = 2 ** 48;

function nonceFor(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 6, 6);
  return n;
}

function linkError(message: string): DfsError {
  return new DfsError("DFS_ERR_AUTH", `link: ${message}`);
}

class Direction {
  protected readonly key: KeyObject;
  #counter = 0;

  constructor(raw: Buffer) {
    if (raw.length !== 32) throw new RangeError("a link key is 32 bytes");
    this.key = createSecretKey(raw);
  }

  protected next(): Buffer {
    if (this.#counter >= MAX_FRAMES) throw linkError("frame counter exhausted");
    return nonceFor(this.#counter++);
  }

  /** Frames protected so far in this direction. */
  get count(): number {
    return this.#counter;
  }
}

/** The sending direction. Calls must follow the order in which the frames are written. */
export class SealingKey extends Direction {
  /**
   * A control frame's body: ciphertext || tag. `header` is the frame header as sent (length
   * included); `clear`, bytes of the body sent in the clear before the ciphertext (a BATCH's DATA
   * bytes), is authenticated after it.
   */
  seal(header: Buffer, plaintext: Buffer, clear?: Buffer): Buffer {
    const c = createCipheriv(ALGORITHM, this.key, this.next());
    c.setAAD(header);
    if (clear !== undefined && clear.length > 0) c.setAAD(clear);
    const out = c.update(plaintext);
    c.final();
    return Buffer.concat([out, c.getAuthTag()]);
  }

  /** A DATA frame's tag over its header and bytes (in order, as parts), which are sent as they are. */
  mac(header: Buffer, bytes: Buffer | readonly Buffer[]): Buffer {
    const c = createCipheriv(ALGORITHM, this.key, this.next());
    c.setAAD(header);
    for (const part of Buffer.isBuffer(bytes) ? [bytes] : bytes) if (part.length > 0) c.setAAD(part);
    c.final();
    return c.getAuthTag();
  }
}

/** A DATA frame being checked as its pieces arrive; `verify` with the tag once they all have. */
export class DataCheck {
  readonly #d: DecipherGCM;

  constructor(d: DecipherGCM) {
    this.#d = d;
  }

  update(piece: Buffer): void {
    if (piece.length > 0) this.#d.setAAD(piece);
  }

  verify(tag: Buffer): void {
    this.#d.setAuthTag(tag);
    try {
      this.#d.final();
    } catch {
      throw linkError("a DATA frame failed authentication");
    }
  }
}

/** The receiving direction. Calls must follow the order in which the frames arrived. */
export class OpeningKey extends Direction {
  /**
   * A control frame's plaintext; DFS_ERR_AUTH when the frame was not sealed by the peer in this
   * place. `body` is ciphertext || tag; `clear` as for SealingKey.seal.
   */
  open(header: Buffer, body: Buffer, clear?: Buffer): Buffer {
    if (body.length < TAG_BYTES) throw linkError("frame shorter than its tag");
    const d = createDecipheriv(ALGORITHM, this.key, this.next());
    d.setAAD(header);
    if (clear !== undefined && clear.length > 0) d.setAAD(clear);
    d.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const out = d.update(body.subarray(0, body.length - TAG_BYTES));
    try {
      d.final();
    } catch {
      throw linkError("a frame failed authentication");
    }
    return out;
  }

  /** Starts checking a DATA frame whose header is `header`. */
  data(header: Buffer): DataCheck {
    const d = createDecipheriv(ALGORITHM, this.key, this.next());
    d.setAAD(header);
    return new DataCheck(d);
  }
}

export interface LinkKeys {
  readonly send: SealingKey;
  readonly receive: OpeningKey;
}
