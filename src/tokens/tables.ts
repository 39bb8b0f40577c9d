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

declare module "../db/tables.js" {
  interface Tables {
    signing_keys: SigningKeyRow;
  }
}
