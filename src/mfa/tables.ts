import type { SealedField } from "../crypto/seal.js";
/** A principal's TOTP factor (AUTH-8). The seed is sealed (AES-256-GCM); `confirmed_at` null = enrolment pending. */
export interface TotpRow {
  principal_id: string;
  secret_sealed: string;
  confirmed_at: number | null;
  /** The last accepted time step: a code is never accepted twice (replay within its window). */
  last_step: number;
  created_at: number;
}

/** One single-use backup code, stored as its SHA-256. */
export interface BackupCodeRow {
  id: string;
  principal_id: string;
  code_hash: string;
  used_at: number | null;
  created_at: number;
}

/** The step between a correct password and a session when a second factor is on. */
export interface MfaChallengeRow {
  id: string;
  principal_id: string;
  /** `portal`: after a password; `external`: after an external provider's sign-in (no password proved). */
  kind: "portal" | "external" | "admin";
  expires_at: number;
  attempts: number;
  consumed_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    mfa_totp: TotpRow;
    mfa_backup_codes: BackupCodeRow;
    mfa_challenges: MfaChallengeRow;
  }
}

/**
 * TOTP seeds, sealed at rest (DATA-1). Sealed under the key BULWARK_SECRET derives, a seed was bound to
 * its owner's id alone: such values still open until rotation re-seals them.
 */
export const TOTP_SEED: SealedField = {
  table: "mfa_totp",
  column: "secret_sealed",
  rowKey: "principal_id",
  legacyAad: (row) => row,
};
