/** A server-side session (AUTH-5). `id` is the SHA-256 of the cookie's token; `public_id` is what users see. */
export interface SessionRow {
  id: string;
  public_id: string;
  user_id: string;
  /** `portal` for tenant users, `admin` for platform staff (AUTH-6): never accepted on the other surface. */
  kind: "portal" | "admin";
  created_at: number;
  last_seen_at: number;
  /** Absolute end: created_at + SESSION_ABSOLUTE_HOURS. */
  expires_at: number;
  /** When the user last proved their password (or a second factor): the re-authentication clock (AUTH-14). */
  reauth_at: number;
  ip: string | null;
  user_agent: string | null;
  /** Set when a platform admin acts as this user (AUTHZ-4): the admin's id. */
  impersonator_id: string | null;
}

declare module "../db/tables.js" {
  interface Tables {
    sessions: SessionRow;
  }
}
