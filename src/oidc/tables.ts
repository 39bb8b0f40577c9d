/**
 * An OpenID Connect client (AUTH-10), registered by one organisation: only its members sign in to it, and
 * only its managers see or change it. Looked up by `id` (the `client_id`) before any organisation is
 * known (the provider reads it on every request), so the table is exempt from the tenant scope like
 * `api_keys`; every management query names the organisation.
 */
export interface OidcClientRow {
  /** The `client_id`: `oc_` + a ULID. */
  id: string;
  org_id: string;
  name: string;
  /** `confidential` (a server: authenticates with its secret) or `public` (a browser or native app: PKCE only). */
  type: string;
  /** SHA-256 of the secret (`ocs_…`, 256 random bits) for a confidential client; null for a public one. */
  secret_hash: string | null;
  /** JSON array of exact redirect URIs. */
  redirect_uris: string;
  /** JSON array of exact URIs the end-session endpoint may return to. */
  post_logout_redirect_uris: string;
  created_by: string;
  created_at: number;
  updated_at: number;
}

/**
 * What `oidc-provider` keeps between requests (sessions, interactions, codes, grants, tokens), one row per
 * model and id, its payload as JSON. Codes and tokens are random 256-bit values the provider never
 * stores whole: the id of a token row is the provider's own handle of it.
 */
export interface OidcStateRow {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  /** When the provider said the row expires; expired rows are never answered, and purged daily. */
  expires_at: number | null;
  consumed_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    oidc_clients: OidcClientRow;
    oidc_state: OidcStateRow;
  }
}
