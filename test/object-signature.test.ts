/**
 * Gateways' signatures on manifest objects (src/credentials/object-signature.ts) and how nodes rank
 * copies with them (src/node/heal/versions.ts): who may sign, what a signature covers, and that an
 * unsigned or badly signed copy never wins.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  type Identity,
  issueCredential,
  issueIdentity,
  newSeed,
  ObjectSignatures,
  parseTrailer,
  type Role,
  sealedPart,
  signingKeyFromSeed,
  signObject,
  TrustAnchor,
} from "../src/credentials/index.ts";
import { ChunkCipher } from "../src/crypto/index.ts";
import { signSealed } from "../src/gateway/signing.ts";
import { copyOfWhole, isCurrent, type Version } from "../src/node/heal/versions.ts";

const seed = newSeed();
const authority = signingKeyFromSeed(seed);
const cipher = new ChunkCipher(Buffer.alloc(32, 7));
const HASH = "ab".repeat(32);
const id = cipher.manifestId(HASH);
const NOW = Date.now();

function identity(role: Role, name: string, issuedAt = Date.now(), lifetimeMs = 3_600_000): Identity {
  return issueIdentity(signingKeyFromSeed(seed), role, name, issuedAt, lifetimeMs).identity;
}

const gateway = identity("gateway", "gw-1");
const signatures = new ObjectSignatures(new TrustAnchor(authority.publicKey));
const version = (data: Buffer): Version => {
  const copy = copyOfWhole(id, data, signatures)!;
  return { header: copy.header, signing: copy.signing };
};

test("a gateway's trailer leaves the sealed bytes intact and vouches for id, type, stamp and bytes", () => {
  const sealed = cipher.sealTombstone(HASH, NOW);
  const stored = signSealed(gateway, id, sealed);
  assert.ok(stored.subarray(0, sealed.length).equals(sealed), "the sealed bytes lead unchanged");
  assert.ok(sealedPart(stored).equals(sealed));
  assert.ok(sealedPart(sealed).equals(sealed), "an unsigned object has no trailer to cut");
  assert.equal(parseTrailer(sealed), undefined);
  assert.deepEqual(version(stored), {
    header: { type: "tombstone", stamp: NOW, chunkIds: [] },
    signing: "signed",
  });
  // The gateway still opens it (its trailer cut off).
  assert.equal(cipher.openStored(HASH, sealedPart(stored)).type, "tombstone");
  // Stamped long before the gateway's credential was issued: not vouched for.
  assert.equal(version(signSealed(gateway, id, cipher.sealTombstone(HASH, 1000))).signing, "bad");
  // Under another id the same bytes vouch for nothing.
  assert.equal(copyOfWhole("cd".repeat(32), stored, signatures)?.signing, "bad");
  // Two copies of one version are the same without a check; another stamp or signature is not.
  const again = copyOfWhole(id, Buffer.from(stored), signatures)!;
  assert.equal(copyOfWhole(id, stored, signatures)!.same(again), true);
  const other = signSealed(gateway, id, cipher.sealTombstone(HASH, NOW + 1));
  assert.equal(copyOfWhole(id, other, signatures)!.same(again), false);
  assert.equal(copyOfWhole(id, sealedPart(stored), signatures)!.same(again), false);
});

test("a changed stamp, changed bytes, a node's credential or another authority's: bad", () => {
  const stored = signSealed(gateway, id, cipher.sealTombstone(HASH, NOW));
  const restamped = Buffer.from(stored);
  restamped.writeBigUInt64BE(BigInt(Date.now() + 10 * 365 * 86_400_000), 2);
  assert.equal(version(restamped).signing, "bad");
  const flipped = Buffer.from(stored);
  flipped[20]! ^= 1; // in the ciphertext: the sealed digest no longer matches
  assert.equal(version(flipped).signing, "bad");
  const byNode = signSealed(identity("node", "node-1"), id, cipher.sealTombstone(HASH, NOW));
  assert.equal(version(byNode).signing, "bad");
  const foreign = issueIdentity(
    signingKeyFromSeed(newSeed()),
    "gateway",
    "gw-x",
    Date.now(),
    3_600_000,
  ).identity;
  assert.equal(version(signSealed(foreign, id, cipher.sealTombstone(HASH, NOW))).signing, "bad");
  assert.equal(version(cipher.sealTombstone(HASH, NOW)).signing, "unsigned");
});

test("a version stays vouched for after its gateway's credential expired, if stamped while in force", () => {
  const old = identity("gateway", "gw-old", Date.now() - 7_200_000, 3_600_000);
  const inForce = Date.now() - 5_000_000;
  assert.equal(version(signSealed(old, id, cipher.sealTombstone(HASH, inForce))).signing, "signed");
  // Stamped after the credential ended: no.
  assert.equal(version(signSealed(old, id, cipher.sealTombstone(HASH, Date.now()))).signing, "bad");
});

test("ranking: an unsigned or badly signed copy never wins and never counts as current", () => {
  const signedAt = (stamp: number, type: "manifest" | "tombstone" = "manifest") =>
    ({ header: { type, stamp, chunkIds: [] }, signing: "signed" }) as Version;
  const unsignedAt = (stamp: number, type: "manifest" | "tombstone" = "tombstone") =>
    ({ header: { type, stamp, chunkIds: [] }, signing: "unsigned" }) as Version;
  const badAt = (stamp: number) =>
    ({ header: { type: "tombstone", stamp, chunkIds: [] }, signing: "bad" }) as Version;
  const far = Date.now() + 10 * 365 * 86_400_000;
  // Signed against signed: the stamp decides, a tombstone on a tie.
  assert.equal(isCurrent(signedAt(100), signedAt(200)), true);
  assert.equal(isCurrent(signedAt(200), signedAt(100)), false);
  assert.equal(isCurrent(signedAt(100), signedAt(100, "tombstone")), true);
  assert.equal(isCurrent(signedAt(100, "tombstone"), signedAt(100)), false);
  // A forged far-future tombstone, unsigned or badly signed, is not current next to a signed copy.
  assert.equal(isCurrent(signedAt(100), unsignedAt(far)), false);
  assert.equal(isCurrent(signedAt(100), badAt(far)), false);
  // Nor next to an older unsigned copy (objects from before signing), unless it is the same version.
  assert.equal(isCurrent(unsignedAt(100, "manifest"), unsignedAt(far)), false);
  assert.equal(isCurrent(unsignedAt(100, "manifest"), unsignedAt(100, "manifest")), true);
  // A signed copy stamped at or after an unsigned one is current; an older signed one is not.
  assert.equal(isCurrent(unsignedAt(100, "manifest"), signedAt(100)), true);
  assert.equal(isCurrent(unsignedAt(200), signedAt(100)), false);
  assert.equal(isCurrent(signedAt(100), undefined), false);
});

test("the trailer's layout is pinned: fixed keys and times give these exact bytes (a golden vector)", () => {
  const authorityKey = signingKeyFromSeed(Buffer.alloc(32, 1));
  const key = signingKeyFromSeed(Buffer.alloc(32, 2));
  const credential = issueCredential(authorityKey, {
    role: "gateway",
    id: "gw-golden",
    publicKey: key.publicKey,
    issuedAtMs: 1_700_000_000_000,
    notAfterMs: 1_800_000_000_000,
  });
  const sealed = Buffer.concat([Buffer.from("02020000018bcfe5680000000000", "hex"), Buffer.alloc(40, 9)]);
  const stored = signObject(
    { credential, key },
    { id: "ef".repeat(32), type: 2, stamp: 1_700_000_000_000, header: sealed.subarray(0, 14) },
    sealed,
  );
  const trailer = parseTrailer(stored)!;
  assert.equal(trailer.bytes, stored.length - sealed.length);
  assert.equal(stored.subarray(-5).toString("latin1"), "\x01DFSG");
  // Ed25519 signatures are deterministic: a change here is a format change, made on purpose.
  assert.equal(
    createHash("sha256").update(stored).digest("hex"),
    "d375d7ff2d1d72695e820da5f3d33525057511afbd557b31410aff48adaf72b1",
  );
});
