export {
  type Credential,
  type CredentialClaims,
  decodeCredential,
  issueCredential,
  MAX_CLOCK_SKEW_MS,
  ROLES,
  type Role,
  verifyCredential,
} from "./credential.ts";
export { KEY_BYTES, newSeed, SIGNATURE_BYTES, type SigningKey, signingKeyFromSeed } from "./ed25519.ts";
export {
  decodeIdentityFile,
  encodeIdentityFile,
  type Identity,
  issueIdentity,
  signAs,
  TrustAnchor,
} from "./identity.ts";
export {
  ObjectSignatures,
  type ObjectVersion,
  parseTrailer,
  SIGNATURE_LABEL,
  type Signing,
  sealedPart,
  signObject,
  TRAILER_FIXED_BYTES,
  TRAILER_MAX_BYTES,
  type Trailer,
} from "./object-signature.ts";
export {
  resolveTrust,
  SELF_ISSUED_LIFETIME_MS,
  type Trust,
  type TrustSources,
  trustAnchorOf,
} from "./trust.ts";
