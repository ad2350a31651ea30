import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { DfsError } from "../errors.ts";
import { BodyReader, BodyWriter } from "./codec.ts";
import { PROTOCOL_VERSION } from "./frame.ts";

/**
 * The handshake: mutual authentication by credentials, ephemeral X25519, one key per direction.
 *
 *   client -> HELLO         nonceC (32) || ephC (32)
 *   server -> SERVER_HELLO  nonceS (32) || ephS (32) || u16 n || credS (n) || sigS (64)
 *   client -> AUTH          u16 n || credC (n) || sigC (64)
 *   server -> READY         sealed, empty: the first frame under the server-to-client key
 *
 * sigS signs SHA-256 of the transcript up to credS, sigC the transcript up to credC (sigS
 * included), each under its own label, so neither can stand in for the other. The keys come from
 * HKDF over the X25519 secret, salted with the cluster secret, bound to the whole transcript.
 * Credentials are opaque bytes here; the transport checks them against the trust anchor.
 * Byte for byte in docs/protocol.md; pinned by test/fixtures/link-vectors.json.
 */
export const NONCE_BYTES = 32;
export const EPHEMERAL_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** A credential is at most 374 bytes (src/credentials); this bounds what a peer may send before auth. */
export const MAX_CREDENTIAL_BYTES = 512;

export const SERVER_LABEL = "dfs-mesh/v2/handshake/server";
export const CLIENT_LABEL = "dfs-mesh/v2/handshake/client";
const TRANSCRIPT_LABEL = Buffer.from("dfs-mesh/v2/transcript");
const PSK_LABEL = Buffer.from("dfs-mesh/v2/psk");
const KEYS_LABEL = Buffer.from("dfs-mesh/v2/keys");

/** Exact or bounded body sizes of the handshake messages, checked before a body is allocated. */
export const HandshakeSizes = {
  HELLO: NONCE_BYTES + EPHEMERAL_BYTES,
  SERVER_HELLO_MIN: NONCE_BYTES + EPHEMERAL_BYTES + 2 + 1 + SIGNATURE_BYTES,
  SERVER_HELLO_MAX: NONCE_BYTES + EPHEMERAL_BYTES + 2 + MAX_CREDENTIAL_BYTES + SIGNATURE_BYTES,
  AUTH_MIN: 2 + 1 + SIGNATURE_BYTES,
  AUTH_MAX: 2 + MAX_CREDENTIAL_BYTES + SIGNATURE_BYTES,
  /** An ERROR before the handshake is done: u16 code, str message of at most 512 bytes. */
  ERROR_MAX: 2 + 2 + 512,
} as const;

// DER prefixes that wrap a raw X25519 key as PKCS#8 (private) and SPKI (public), RFC 8410.
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");

export interface Ephemeral {
  readonly privateKey: KeyObject;
  /** Raw 32-byte public key, as sent. */
  readonly publicKey: Buffer;
}

function rawPublic(privateKey: KeyObject): Buffer {
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return Buffer.from(spki.subarray(X25519_SPKI.length));
}

export function newEphemeral(): Ephemeral {
  const { privateKey } = generateKeyPairSync("x25519");
  return { privateKey, publicKey: rawPublic(privateKey) };
}

/** An ephemeral key from fixed bytes: for test vectors only. */
export function ephemeralFromBytes(raw: Buffer): Ephemeral {
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, raw]),
    format: "der",
    type: "pkcs8",
  });
  return { privateKey, publicKey: rawPublic(privateKey) };
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** X25519 with the peer's public key; a low-order key (an all-zero secret) is refused. */
export function sharedSecret(mine: Ephemeral, theirs: Buffer): Buffer {
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({
      key: Buffer.concat([X25519_SPKI, theirs]),
      format: "der",
      type: "spki",
    });
    shared = diffieHellman({ privateKey: mine.privateKey, publicKey });
  } catch (err) {
    throw new DfsError("DFS_ERR_AUTH", "handshake: unusable ephemeral key", { cause: err });
  }
  if (shared.every((b) => b === 0)) throw new DfsError("DFS_ERR_AUTH", "handshake: low-order ephemeral key");
  return shared;
}

export interface ClientHello {
  readonly nonce: Buffer;
  readonly ephemeral: Buffer;
}

export interface ServerHello {
  readonly nonce: Buffer;
  readonly ephemeral: Buffer;
  readonly credential: Buffer;
  readonly signature: Buffer;
}

export interface ClientAuth {
  readonly credential: Buffer;
  readonly signature: Buffer;
}

function readCredential(r: BodyReader): Buffer {
  const n = r.u16();
  if (n < 1 || n > MAX_CREDENTIAL_BYTES)
    throw new DfsError("DFS_ERR_AUTH", "handshake: bad credential length");
  return r.bytes(n);
}

function decoded<T>(body: Buffer, read: (r: BodyReader) => T): T {
  try {
    const r = new BodyReader(body);
    const m = read(r);
    r.end();
    return m;
  } catch (err) {
    throw new DfsError("DFS_ERR_AUTH", `handshake: malformed message (${(err as Error).message})`);
  }
}

export const ClientHelloMsg = {
  encode: (m: ClientHello): Buffer => new BodyWriter().bytes(m.nonce).bytes(m.ephemeral).done(),
  decode: (body: Buffer): ClientHello =>
    decoded(body, (r) => ({ nonce: r.bytes(NONCE_BYTES), ephemeral: r.bytes(EPHEMERAL_BYTES) })),
};

export const ServerHelloMsg = {
  encode: (m: ServerHello): Buffer =>
    new BodyWriter()
      .bytes(m.nonce)
      .bytes(m.ephemeral)
      .u16(m.credential.length)
      .bytes(m.credential)
      .bytes(m.signature)
      .done(),
  decode: (body: Buffer): ServerHello =>
    decoded(body, (r) => ({
      nonce: r.bytes(NONCE_BYTES),
      ephemeral: r.bytes(EPHEMERAL_BYTES),
      credential: readCredential(r),
      signature: r.bytes(SIGNATURE_BYTES),
    })),
};

export const ClientAuthMsg = {
  encode: (m: ClientAuth): Buffer =>
    new BodyWriter().u16(m.credential.length).bytes(m.credential).bytes(m.signature).done(),
  decode: (body: Buffer): ClientAuth =>
    decoded(body, (r) => ({ credential: readCredential(r), signature: r.bytes(SIGNATURE_BYTES) })),
};

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

function withLength(b: Buffer): Buffer[] {
  const n = Buffer.allocUnsafe(2);
  n.writeUInt16BE(b.length);
  return [n, b];
}

function serverPart(hello: ClientHello, server: Omit<ServerHello, "signature">): Buffer[] {
  return [
    TRANSCRIPT_LABEL,
    Buffer.from([PROTOCOL_VERSION]),
    hello.nonce,
    hello.ephemeral,
    server.nonce,
    server.ephemeral,
    ...withLength(server.credential),
  ];
}

/** What the server signs (under SERVER_LABEL): the transcript hash up to its credential. */
export function serverSigned(hello: ClientHello, server: Omit<ServerHello, "signature">): Buffer {
  return sha256(...serverPart(hello, server));
}

/** What the client signs (under CLIENT_LABEL): the transcript hash up to its own credential. */
export function clientSigned(hello: ClientHello, server: ServerHello, credential: Buffer): Buffer {
  return sha256(...serverPart(hello, server), server.signature, ...withLength(credential));
}

export interface SessionKeys {
  readonly clientToServer: Buffer;
  readonly serverToClient: Buffer;
}

/**
 * HKDF-SHA256: input the X25519 secret, salt SHA-256(PSK_LABEL || cluster secret), info
 * KEYS_LABEL || SHA-256(whole transcript); 64 bytes, the first 32 client-to-server.
 */
export function sessionKeys(
  shared: Buffer,
  clusterSecret: Buffer,
  hello: ClientHello,
  server: ServerHello,
  auth: ClientAuth,
): SessionKeys {
  const transcript = sha256(
    ...serverPart(hello, server),
    server.signature,
    ...withLength(auth.credential),
    auth.signature,
  );
  const salt = sha256(PSK_LABEL, clusterSecret);
  const okm = Buffer.from(hkdfSync("sha256", shared, salt, Buffer.concat([KEYS_LABEL, transcript]), 64));
  return { clientToServer: okm.subarray(0, 32), serverToClient: okm.subarray(32, 64) };
}
