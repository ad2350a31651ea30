import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Mutual challenge-response with the cluster secret, before any command:
 *   client -> HELLO      nonceC (32 random bytes)
 *   server -> CHALLENGE  nonceS (32) || HMAC-SHA256(secret, SERVER_LABEL || nonceC || nonceS)
 *   client -> AUTH       HMAC-SHA256(secret, CLIENT_LABEL || nonceC || nonceS)
 *   server -> READY      node id
 * Each side proves the secret over a nonce the other chose, so neither proof can be replayed;
 * distinct labels stop a peer from reflecting the server's proof back as a client proof.
 */
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
const SERVER_LABEL = Buffer.from("dfs-mesh/v1/handshake/server");
const CLIENT_LABEL = Buffer.from("dfs-mesh/v1/handshake/client");

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

function proof(secret: Buffer, label: Buffer, nonceC: Buffer, nonceS: Buffer): Buffer {
  return createHmac("sha256", secret).update(label).update(nonceC).update(nonceS).digest();
}

export function serverProof(secret: Buffer, nonceC: Buffer, nonceS: Buffer): Buffer {
  return proof(secret, SERVER_LABEL, nonceC, nonceS);
}

export function clientProof(secret: Buffer, nonceC: Buffer, nonceS: Buffer): Buffer {
  return proof(secret, CLIENT_LABEL, nonceC, nonceS);
}

export function proofsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
