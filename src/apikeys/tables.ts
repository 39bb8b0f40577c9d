/**
 * An organisation's API key (KEY-1…KEY-7). The key itself is never stored: `hash` is its SHA-256 and
 * `prefix` 8 of its characters for display. List columns hold JSON arrays of strings.
 */
export interface ApiKeyRow {
  id: string;
  org_id: string;
  name: string;
  prefix: string;
  hash: string;
  /** JSON: `resource:action` scopes, each an action of the permission table. */
  scopes: string;
  /** JSON: exact origins (`https://app.example.org`) a browser may send it from; empty: any. */
  allowed_origins: string;
  /** JSON: addresses and CIDRs it may be used from; empty: any. */
  allowed_ips: string;
  expires_at: number | null;
  /** From this moment the key is refused; later than now while a rotation's grace period runs. */
  revoked_at: number | null;
  /** The key that replaced this one by rotation. */
  rotated_to: string | null;
  created_by: string;
  created_at: number;
  last_used_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    api_keys: ApiKeyRow;
  }
}
