import { DfsError } from "../errors.ts";
import type { Role } from "./credential.ts";
import { signingKeyFromSeed } from "./ed25519.ts";
import { decodeIdentityFile, type Identity, issueIdentity, TrustAnchor } from "./identity.ts";

/** The configured sources of trust (the shape of the config's `trust`). */
export interface TrustSources {
  readonly authorityPublicKey: Buffer | undefined;
  readonly authoritySeed: Buffer | undefined;
  readonly identityText: string | undefined;
}

/** How long a self-issued credential lasts; the process issues a new one at every start. */
export const SELF_ISSUED_LIFETIME_MS = 365 * 24 * 3_600_000;

/**
 * The trust anchor alone, for processes that check others but act under no identity of their own
 * (`dfs nodes` run by an operator) and for checks that need no identity. Undefined when no
 * authority is configured.
 */
export function trustAnchorOf(sources: TrustSources, now: () => number = Date.now): TrustAnchor | undefined {
  const publicKey =
    sources.authorityPublicKey ??
    (sources.authoritySeed ? signingKeyFromSeed(sources.authoritySeed).publicKey : undefined);
  return publicKey === undefined ? undefined : new TrustAnchor(publicKey, now);
}

export interface Trust {
  readonly anchor: TrustAnchor;
  readonly identity: Identity;
}

/**
 * This process's identity as `role` under `id`, and the anchor it checks others against.
 * An identity file must name that role and id; with the authority's seed instead, the process
 * issues itself a credential (development and tests).
 */
export function resolveTrust(
  sources: TrustSources,
  role: Role,
  id: string,
  now: () => number = Date.now,
): Trust {
  const authority = sources.authoritySeed ? signingKeyFromSeed(sources.authoritySeed) : undefined;
  const publicKey = sources.authorityPublicKey ?? authority?.publicKey;
  if (publicKey === undefined) throw new DfsError("DFS_ERR_CONFIG", "cluster.authorityPublicKey: required");
  if (authority && !authority.publicKey.equals(publicKey)) {
    throw new DfsError("DFS_ERR_CONFIG", "cluster.authorityKey does not match cluster.authorityPublicKey");
  }
  const anchor = new TrustAnchor(publicKey, now);
  let identity: Identity;
  if (sources.identityText !== undefined) {
    identity = decodeIdentityFile(sources.identityText);
    anchor.credential(identity.credential.encoded, role);
    if (identity.credential.id !== id) {
      throw new DfsError(
        "DFS_ERR_CONFIG",
        `cluster.identityFile: issued for "${identity.credential.id}", this ${role} is "${id}"`,
      );
    }
  } else if (authority !== undefined) {
    identity = issueIdentity(authority, role, id, now(), SELF_ISSUED_LIFETIME_MS).identity;
  } else {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      "cluster.identityFile: required (make one with `dfs credential issue`)",
    );
  }
  return { anchor, identity };
}
