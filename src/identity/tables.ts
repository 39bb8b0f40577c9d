/** Row types of the identity tables. Timestamps are epoch milliseconds on both engines. */
export interface UserRow {
  id: string;
  /** Normalised: trimmed and lower-cased. Unique. */
  email: string;
  email_verified_at: number | null;
  /** The name the person goes by (display only); null until set. */
  name?: string | null;
  /** argon2id PHC string, or a bcrypt hash imported from another system (upgraded on next login). */
  password_hash: string | null;
  created_at: number;
  updated_at: number;
}

/** A single-use secret sent by mail (verification, reset), stored as the SHA-256 of the token. */
export interface EmailTokenRow {
  id: string;
  user_id: string;
  purpose: "verify_email" | "reset_password";
  expires_at: number;
  consumed_at: number | null;
  created_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    users: UserRow;
    email_tokens: EmailTokenRow;
  }
}
