/**
 * A passkey (AUTH-13): a WebAuthn credential of one user, found by its credential id when it signs in.
 * Only its public key is stored: a database copy signs in nowhere.
 */
export interface PasskeyRow {
  /** The credential id, base64url, as the authenticator gave it. */
  id: string;
  user_id: string;
  name: string;
  /** The COSE public key, base64url. */
  public_key: string;
  /** The signature counter last seen (0 for authenticators that keep none, such as synced passkeys). */
  counter: number;
  /** JSON array of the transports the authenticator named (internal, hybrid, usb…). */
  transports: string;
  /** `singleDevice` or `multiDevice` (synced). */
  device_type: string;
  backed_up: number;
  created_at: number;
  last_used_at: number | null;
}

/** A challenge handed out for one registration or sign-in: used once, within five minutes. */
export interface WebauthnChallengeRow {
  id: string;
  /** The user registering; null for a sign-in (the passkey says who it is). */
  user_id: string | null;
  purpose: string;
  challenge: string;
  expires_at: number;
  used_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    passkeys: PasskeyRow;
    webauthn_challenges: WebauthnChallengeRow;
  }
}
