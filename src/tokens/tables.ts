import type { SealedField } from "../crypto/seal.js";
/**
 * A key that signs access tokens (AUTH-9). A global table: every organisation's tokens are signed by
 * the same keys, published at /.well-known/jwks.json. At most one key is `next` and one `current`.
 */
export interface SigningKeyRow {
  /** The RFC 7638 thumbprint of the public key: the `kid` of every token it signs. */
  kid: string;
  /** `ES256` (ECDSA P-256 with SHA-256). */
  alg: string;
  /** `next` (published, not signing yet), `current` (signing) or `retired` (published during the overlap). */
  state: string;
  /** The public JWK, as JSON. */
  public_jwk: string;
  /** The private JWK, sealed (AES-256-GCM, bound to this row): a database dump alone signs nothing. */
  private_jwk: string;
  created_at: number;
  /** When it started signing; null while `next`. */
  activated_at: number | null;
  /** When it stopped signing; null until retired. */
  retired_at: number | null;
}

/**
 * A family of refresh tokens (AUTH-9): one sign-in of an app, for one user in one organisation. Its row
 * is the lock every refresh and revocation takes first, so a revocation is never missed by a refresh
 * running at the same moment; it ends at `expires_at` whatever its refreshes (an absolute lifetime).
 * Read by the hash of a token before its organisation is known: exempt from the tenant scope.
 */
export interface TokenFamilyRow {
  id: string;
  user_id: string;
  org_id: string;
  /** JSON array of the scopes the family was issued with. */
  scopes: string;
  created_at: number;
  expires_at: number;
  /** When it was revoked (reuse, revocation, password change, removal from the organisation). */
  revoked_at: number | null;
  revoked_reason: string | null;
}

/** One refresh token of a family: opaque, stored as its SHA-256 only, and used at most once. */
export interface RefreshTokenRow {
  id: string;
  family_id: string;
  token_hash: string;
  created_at: number;
  /** When it was exchanged for its successor; null while unused. */
  used_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    signing_keys: SigningKeyRow;
    token_families: TokenFamilyRow;
    refresh_tokens: RefreshTokenRow;
  }
}

/** Private signing keys, sealed at rest (DATA-1). */
export const PRIVATE_JWK: SealedField = { table: "signing_keys", column: "private_jwk", rowKey: "kid" };
