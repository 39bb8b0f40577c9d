import type { SealedField } from "../crypto/seal.js";
/**
 * An external identity linked to an account (AUTH-11): the provider's subject, which never changes,
 * is the key; the address is what the provider asserted when it was linked, kept for the owner to see.
 */
export interface ExternalIdentityRow {
  id: string;
  user_id: string;
  provider: string;
  /** The provider's issuer when linked: a subject is unique per issuer, so a provider id pointed at
   * another issuer signs nobody in to accounts linked under the old one. */
  issuer: string;
  subject: string;
  email: string | null;
  created_at: number;
  last_used_at: number | null;
}

/**
 * A sign-in or link under way with a provider (`signin`, `link`), or an identity waiting for the
 * owner of an existing account to confirm it (`confirm`). Found by the hash of its state (or token),
 * used once, for ten minutes.
 */
export interface ExternalFlowRow {
  id: string;
  provider: string;
  purpose: "signin" | "link" | "confirm";
  /** `link`: the account adding it; `confirm`: the account it would join. */
  user_id: string | null;
  /** The PKCE verifier, sealed (it redeems the code). */
  verifier_sealed: string | null;
  nonce: string | null;
  /** Where the console goes after (a path of its own). */
  next: string;
  /** `confirm`: the provider's subject and the address it asserted. */
  subject: string | null;
  email: string | null;
  expires_at: number;
  used_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    external_identities: ExternalIdentityRow;
    external_flows: ExternalFlowRow;
  }
}

/** A sign-in's PKCE verifier, sealed for its few minutes at rest (DATA-1). */
export const PKCE_VERIFIER: SealedField = {
  table: "external_flows",
  column: "verifier_sealed",
  rowKey: "id",
  legacyAad: (row) => `external_flows:${row}`,
};
