import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";
import { DfsError } from "../errors.ts";
import {
  encodeManifestHeader,
  headerBytesFor,
  type ManifestHeader,
  objectIdBytes,
  parseManifestHeader,
} from "../formats/index.ts";
import { openChunk, sealChunk } from "./chunk.ts";
import { MANIFEST_MAX_BYTES, MANIFEST_OVERHEAD, NONCE_BYTES, TAG_BYTES } from "./format.ts";
import { gcmInto } from "./gcm.ts";
import { KeyRing } from "./keys.ts";
import { type Manifest, manifestJson, manifestProblem } from "./manifest.ts";

export interface SealedChunk {
  /** The bytes to store: format byte, ciphertext, GCM tag (format.ts). */
  ciphertext: Buffer;
  /** sha256 hex of the plaintext: goes into the manifest, needed to open the chunk. */
  plainHash: string;
  /** sha256 hex of `ciphertext`: the id nodes store and verify the chunk under. */
  chunkId: string;
}

/**
 * The gateway's cipher: seals chunks and manifests under keys derived from the cluster key
 * (keys.ts says how, format.ts what the bytes look like). Storage nodes never hold one: they see
 * chunk ids and sealed bytes only. Stateless after construction; safe to share.
 */
export class ChunkCipher {
  readonly #keys: KeyRing;

  /** `clusterKey`: 32 bytes, else DFS_ERR_CONFIG. */
  constructor(clusterKey: Buffer) {
    this.#keys = new KeyRing(clusterKey);
  }

  /**
   * Convergent-with-secret encryption: equal plaintexts give equal ciphertexts (so storage
   * de-duplicates), unreadable and untestable without the cluster key. The plaintext is read, never
   * kept: the caller may reuse its buffer as soon as this returns. `into`: a buffer of at least
   * plaintext + CHUNK_OVERHEAD bytes to seal into (the ciphertext is then a view of it).
   */
  seal(plaintext: Buffer, into?: Buffer): SealedChunk {
    const plainHash = createHash("sha256").update(plaintext).digest();
    const { ciphertext, chunkId } = sealChunk(this.#keys.chunkKey(plainHash), plaintext, into);
    return { ciphertext, plainHash: plainHash.toString("hex"), chunkId };
  }

  /**
   * The plaintext of a sealed chunk, authenticated under the key of `plainHash`. Tampering, the
   * wrong cluster key or the wrong hash: DFS_ERR_CORRUPT. A malformed hash: DFS_ERR_INVALID_HASH.
   * The result is a new buffer: `ciphertext` may be reused as soon as this returns.
   */
  open(ciphertext: Buffer, plainHash: string): Buffer {
    const [first, ...rest] = this.openPieces(ciphertext, plainHash);
    return rest.length === 0 ? (first ?? Buffer.alloc(0)) : Buffer.concat([first!, ...rest]);
  }

  /** open(), as pieces of at most `pieceBytes` (new buffers: a download sends them as they are). */
  openPieces(ciphertext: Buffer, plainHash: string, pieceBytes?: number): Buffer[] {
    return openChunk(this.#keys.chunkKey(objectIdBytes(plainHash)), ciphertext, pieceBytes);
  }

  /**
   * The id a file's manifest is stored under: HMAC-SHA256 of the file's sha256 under a key derived
   * from the cluster key, so a node cannot tell which known sha256 it holds. 64 lowercase hex.
   */
  manifestId(fileHash: string): string {
    return this.#keys.manifestId(objectIdBytes(fileHash));
  }

  /**
   * Encrypts and authenticates a manifest, bound to `manifest.hash` (its key and its additional data
   * come from it). Its stamp is `createdAt`; the chunk ids go into the clear header (format.ts).
   * Deterministic: the same manifest gives the same bytes. A manifest that would not open again
   * (wrong shape) is refused with DFS_ERR_INTERNAL; one too large with DFS_ERR_TOO_LARGE.
   */
  sealManifest(manifest: Manifest): Buffer {
    const problem = manifestProblem(manifest);
    if (problem) throw new DfsError("DFS_ERR_INTERNAL", `refusing to seal an invalid manifest: ${problem}`);
    const body = Buffer.from(manifestJson(manifest));
    const ids = [...new Set(manifest.chunks.map((c) => c.id))];
    if (body.length + 32 * ids.length > MANIFEST_MAX_BYTES) {
      throw new DfsError("DFS_ERR_TOO_LARGE", `a manifest is limited to ${MANIFEST_MAX_BYTES} bytes`);
    }
    return this.#seal(manifest.hash, encodeManifestHeader("manifest", manifest.createdAt, ids), body);
  }

  /**
   * The tombstone a delete of `fileHash` leaves under its manifest id: no chunks, a body that says
   * "deleted", bound to the file like a manifest. `stamp`: ms since the epoch (the delete's time).
   */
  sealTombstone(fileHash: string, stamp: number): Buffer {
    objectIdBytes(fileHash);
    if (!Number.isSafeInteger(stamp) || stamp < 0)
      throw new DfsError("DFS_ERR_INTERNAL", "bad tombstone stamp");
    return this.#seal(
      fileHash,
      encodeManifestHeader("tombstone", stamp, []),
      Buffer.from(tombstoneJson(fileHash)),
    );
  }

  #seal(fileHashHex: string, header: Buffer, body: Buffer): Buffer {
    const fileHash = objectIdBytes(fileHashHex);
    const key = this.#keys.manifestKey(fileHash);
    const nonceKey = this.#keys.manifestNonceKey(fileHash);
    const out = Buffer.allocUnsafe(header.length + NONCE_BYTES + body.length + TAG_BYTES);
    header.copy(out, 0);
    // SIV: the nonce covers the header too, so two stamps of one body never share a nonce.
    const nonce = createHmac("sha256", nonceKey)
      .update(header)
      .update(body)
      .digest()
      .subarray(0, NONCE_BYTES);
    nonce.copy(out, header.length);
    const aad = out.subarray(0, header.length + NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.concat([aad, fileHash]));
    const at = gcmInto(cipher, body, out, aad.length);
    cipher.final();
    cipher.getAuthTag().copy(out, at);
    return out;
  }

  /**
   * The manifest of the file `fileHash`, decrypted, authenticated and validated strictly.
   * A tombstone (the file was deleted): DFS_ERR_NOT_FOUND. Tampering, the wrong key, a manifest of
   * another file or a malformed one: DFS_ERR_CORRUPT.
   */
  openManifest(fileHash: string, sealed: Buffer): Manifest {
    const opened = this.openStored(fileHash, sealed);
    if (opened.type === "tombstone") throw new DfsError("DFS_ERR_NOT_FOUND", `file ${fileHash} was deleted`);
    return opened.manifest;
  }

  /** A stored manifest object opened: the manifest, or the tombstone, with its stamp. */
  openStored(fileHash: string, sealed: Buffer): OpenedManifest {
    const raw = objectIdBytes(fileHash);
    const { header, headerBytes } = readHeader(sealed);
    if (sealed.length > MANIFEST_MAX_BYTES + MANIFEST_OVERHEAD + headerBytes)
      throw corrupt("manifest too large");
    const key = this.#keys.manifestKey(raw);
    const aadEnd = headerBytes + NONCE_BYTES;
    const end = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(headerBytes, aadEnd), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.concat([sealed.subarray(0, aadEnd), raw]));
    decipher.setAuthTag(sealed.subarray(end));
    const body = Buffer.allocUnsafe(end - aadEnd);
    gcmInto(decipher, sealed.subarray(aadEnd, end), body, 0);
    try {
      decipher.final();
    } catch (err) {
      throw corrupt("manifest failed authentication (tampered, another file's, or another key)", err);
    }
    if (header.type === "tombstone") {
      if (body.toString("utf8") !== tombstoneJson(fileHash)) throw corrupt("malformed tombstone");
      return { type: "tombstone", stamp: header.stamp };
    }
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw corrupt("manifest is not JSON", err);
    }
    const problem = manifestProblem(value);
    if (problem) throw corrupt(`malformed manifest: ${problem}`);
    const manifest = value as Manifest;
    if (manifest.hash !== fileHash) throw corrupt("manifest names another file");
    const ids = [...new Set(manifest.chunks.map((c) => c.id))];
    if (ids.length !== header.chunkIds.length || ids.some((id, i) => id !== header.chunkIds[i])) {
      throw corrupt("manifest header lists other chunks than its body");
    }
    if (header.stamp !== manifest.createdAt) throw corrupt("manifest stamp is not its createdAt");
    return { type: "manifest", stamp: header.stamp, manifest };
  }
}

/** A stored manifest object, opened. */
export type OpenedManifest =
  | { type: "manifest"; stamp: number; manifest: Manifest }
  | { type: "tombstone"; stamp: number };

function tombstoneJson(fileHash: string): string {
  return JSON.stringify({ deleted: fileHash });
}

/** The clear header of a sealed manifest and its length, or DFS_ERR_CORRUPT. */
function readHeader(sealed: Buffer): { header: ManifestHeader; headerBytes: number } {
  const header = parseManifestHeader(sealed);
  if (header === undefined) {
    throw corrupt(`not a sealed manifest (format ${sealed[0]}, type ${sealed[1]}, ${sealed.length} bytes)`);
  }
  const short = () => corrupt(`a manifest of ${sealed.length} bytes, shorter than its header says`);
  if ("need" in header) throw short();
  const headerBytes = headerBytesFor(header.chunkIds.length);
  if (sealed.length < headerBytes + NONCE_BYTES + TAG_BYTES) throw short();
  return { header, headerBytes };
}

function corrupt(message: string, cause?: unknown): DfsError {
  return new DfsError("DFS_ERR_CORRUPT", message, cause === undefined ? undefined : { cause });
}
