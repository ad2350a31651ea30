import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  decodeCredential,
  decodeIdentityFile,
  encodeIdentityFile,
  issueCredential,
  issueIdentity,
  newSeed,
  resolveTrust,
  signAs,
  signingKeyFromSeed,
  TrustAnchor,
} from "../src/credentials/index.ts";
import { isDfsError } from "../src/errors.ts";
import { CLI } from "./helpers/proc.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const authority = signingKeyFromSeed(Buffer.alloc(32, 7));
const NOW = 1_800_000_000_000;
const DAY = 24 * 3_600_000;

describe("credentials", () => {
  test("RFC 8032 test vector 1: the seed gives the published public key", () => {
    const key = signingKeyFromSeed(
      Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"),
    );
    assert.equal(
      key.publicKey.toString("hex"),
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    );
  });

  test("a credential the authority issued verifies, with its claims intact", () => {
    const { identity } = issueIdentity(authority, "node", "0123456789abcdef0123456789abcdef", NOW, DAY);
    const anchor = new TrustAnchor(authority.publicKey, () => NOW + 1000);
    const credential = anchor.credential(identity.credential.encoded, "node");
    assert.equal(credential.role, "node");
    assert.equal(credential.id, "0123456789abcdef0123456789abcdef");
    assert.deepEqual(credential.publicKey, identity.key.publicKey);
    assert.equal(credential.notAfterMs, NOW + DAY);
  });

  test("refused: another authority, a flipped byte, the wrong role, expired, issued in the future", () => {
    const other = signingKeyFromSeed(Buffer.alloc(32, 8));
    const { identity } = issueIdentity(other, "gateway", "gw", NOW, DAY);
    const anchor = (at: number) => new TrustAnchor(authority.publicKey, () => at);
    const refused = (fn: () => unknown, why: RegExp) =>
      assert.throws(fn, (err) => isDfsError(err, "DFS_ERR_AUTH") && why.test(err.message));

    refused(() => anchor(NOW).credential(identity.credential.encoded), /bad signature/);
    const mine = issueIdentity(authority, "gateway", "gw", NOW, DAY).identity.credential.encoded;
    for (const at of [5, 7, 20, mine.length - 70, mine.length - 1]) {
      const flipped = Buffer.from(mine);
      flipped[at]! ^= 1;
      assert.throws(
        () => anchor(NOW).credential(flipped),
        (err) => isDfsError(err, "DFS_ERR_AUTH"),
      );
    }
    refused(() => anchor(NOW).credential(mine, "node"), /role gateway, expected node/);
    refused(() => anchor(NOW + DAY + 1).credential(mine), /expired/);
    refused(() => anchor(NOW - 3_600_000).credential(mine), /issued in the future/);
  });

  test("a cached credential still expires and still has a role", () => {
    let now = NOW;
    const anchor = new TrustAnchor(authority.publicKey, () => now);
    const encoded = issueIdentity(authority, "node", "n1", NOW, DAY).identity.credential.encoded;
    anchor.credential(encoded);
    assert.throws(
      () => anchor.credential(encoded, "gateway"),
      (err) => isDfsError(err, "DFS_ERR_AUTH"),
    );
    now = NOW + DAY + 1;
    assert.throws(() => anchor.credential(encoded), /expired/);
  });

  test("a signature binds holder, label and message", () => {
    const { identity } = issueIdentity(authority, "gateway", "gw", NOW, DAY);
    const anchor = new TrustAnchor(authority.publicKey, () => NOW);
    const credential = anchor.credential(identity.credential.encoded);
    const sig = signAs(identity, "dfs-mesh/test/a", Buffer.from("hello"));
    assert.ok(anchor.signedBy(credential, "dfs-mesh/test/a", Buffer.from("hello"), sig));
    assert.ok(!anchor.signedBy(credential, "dfs-mesh/test/b", Buffer.from("hello"), sig));
    assert.ok(!anchor.signedBy(credential, "dfs-mesh/test/a", Buffer.from("hellp"), sig));
    const someoneElse = issueIdentity(authority, "gateway", "gw", NOW, DAY).identity;
    assert.ok(!anchor.signedBy(someoneElse.credential, "dfs-mesh/test/a", Buffer.from("hello"), sig));
  });

  test("the layout is pinned: a fixed credential encodes to these exact bytes (a golden vector)", () => {
    const holder = signingKeyFromSeed(Buffer.alloc(32, 9));
    const credential = issueCredential(authority, {
      role: "admin",
      id: "ops",
      publicKey: holder.publicKey,
      issuedAtMs: NOW,
      notAfterMs: NOW + DAY,
    });
    // Ed25519 is deterministic, so the encoding is fixed by its inputs; a change here is a format change.
    const golden =
      "444653430103036f7073" + // "DFSC", version 1, role 3 (admin), id length 3, "ops"
      "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618" + // holder's public key
      "000001a3185c5000" + // issued at
      "000001a31d82ac00" + // not after
      "7652c3e96f1b2dbe359342c44d1b21f1d161e5b472f34baa9d53b44867c7cd41" + // authority's signature
      "42fec91ed94257c7f7a21e750a8f4e19fdc744a3de27439d470dd049458b5f07";
    assert.equal(credential.encoded.toString("hex"), golden);
    const decoded = decodeCredential(Buffer.from(golden, "hex"));
    assert.deepEqual(
      [decoded.role, decoded.id, decoded.issuedAtMs, decoded.notAfterMs],
      ["admin", "ops", NOW, NOW + DAY],
    );
  });

  test("an identity file round-trips, and one whose seed is not its key is refused", () => {
    const issued = issueIdentity(authority, "node", "n1", NOW, DAY);
    const text = encodeIdentityFile(issued.identity.credential, issued.seed);
    const back = decodeIdentityFile(text);
    assert.deepEqual(back.credential.encoded, issued.identity.credential.encoded);
    assert.deepEqual(back.key.publicKey, issued.identity.key.publicKey);
    const wrong = encodeIdentityFile(issued.identity.credential, newSeed());
    assert.throws(
      () => decodeIdentityFile(wrong),
      (err) => isDfsError(err, "DFS_ERR_CONFIG"),
    );
  });

  test("resolveTrust: self-issued from the seed, or from a file that must match role and id", () => {
    const seed = Buffer.alloc(32, 7);
    const self = resolveTrust(
      { authorityPublicKey: undefined, authoritySeed: seed, identityText: undefined },
      "gateway",
      "gw-1",
      () => NOW,
    );
    assert.equal(self.identity.credential.role, "gateway");
    assert.equal(self.anchor.credential(self.identity.credential.encoded).id, "gw-1");

    const issued = issueIdentity(authority, "node", "n1", NOW, DAY);
    const identityText = encodeIdentityFile(issued.identity.credential, issued.seed);
    const sources = { authorityPublicKey: authority.publicKey, authoritySeed: undefined, identityText };
    assert.equal(resolveTrust(sources, "node", "n1", () => NOW).identity.credential.id, "n1");
    assert.throws(() => resolveTrust(sources, "node", "n2", () => NOW), /issued for "n1"/);
    assert.throws(
      () => resolveTrust(sources, "gateway", "n1", () => NOW),
      (err) => isDfsError(err, "DFS_ERR_AUTH"),
    );
    assert.throws(
      () => resolveTrust({ ...sources, identityText: undefined }, "node", "n1", () => NOW),
      (err) => isDfsError(err, "DFS_ERR_CONFIG"),
    );
  });
});

describe("dfs credential", () => {
  test("authority then issue: the identity file verifies under the printed public key", async () => {
    const tmp = await makeTempDir("dfs-cred-");
    after(tmp.remove);
    const dir = tmp.path;
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, "credential", ...args], { cwd: dir, encoding: "utf8" });
    const made = run("authority", "--out", "authority.key");
    assert.equal(made.status, 0, made.stderr);
    const publicKey = Buffer.from(made.stdout.trim(), "hex");
    const issued = run(
      "issue",
      "--role",
      "gateway",
      "--id",
      "gw-a",
      "--authority-key-file",
      "authority.key",
      "--out",
      "gw.id",
      "--days",
      "2",
    );
    assert.equal(issued.status, 0, issued.stderr);
    const identity = decodeIdentityFile(await readFile(join(dir, "gw.id"), "utf8"));
    const credential = new TrustAnchor(publicKey).credential(identity.credential.encoded, "gateway");
    assert.equal(credential.id, "gw-a");
    assert.ok(Math.abs(credential.notAfterMs - Date.now() - 2 * DAY) < 60_000);
    assert.equal((await stat(join(dir, "gw.id"))).mode & 0o777, 0o600);

    const again = run("authority", "--out", "authority.key");
    assert.equal(again.status, 2);
    assert.match(again.stderr, /exists; not overwritten/);
    const badRole = run(
      "issue",
      "--role",
      "root",
      "--id",
      "x",
      "--authority-key-file",
      "authority.key",
      "--out",
      "x.id",
    );
    assert.equal(badRole.status, 2);
    assert.match(badRole.stderr, /--role node\|gateway\|admin/);
  });
});
