import type { FastifyRequest } from "fastify";
import { ANONYMOUS, byRequest } from "../audit/actor.js";
import type { AuditEvent } from "../audit/entry.js";
import type { MfaChallengeRow } from "./tables.js";

/**
 * The audit events of second factors (AUDIT-2). They say that a factor changed and how many backup
 * codes were issued, never the seed, a code or a backup code. Platform log: a factor is an account's.
 */

/** The account a factor belongs to: admins (`adm_…`) have factors too. */
const principal = (id: string) => ({ type: id.startsWith("adm_") ? "admin" : "user", id });

export const mfaEvents = {
  /** TOTP turned on, or an account's first passkey added (its backup codes issued with it). */
  enabled(
    req: FastifyRequest,
    principalId: string,
    backupCodes: number,
    method: "totp" | "passkey" = "totp",
  ): AuditEvent {
    return byRequest(req, {
      action: "mfa.enabled",
      entity: principal(principalId),
      before: method === "totp" ? { totp: false } : { secondFactor: false },
      after: method === "totp" ? { totp: true } : { secondFactor: true },
      metadata: { method, backupCodesIssued: backupCodes },
    });
  },

  /**
   * TOTP turned off (`secondFactorLeft`: a passkey still stands, with the backup codes), or the
   * account's last passkey removed with no TOTP: no second factor is left.
   */
  disabled(
    req: FastifyRequest,
    principalId: string,
    secondFactorLeft: boolean,
    method: "totp" | "passkey" = "totp",
  ): AuditEvent {
    return byRequest(req, {
      action: "mfa.disabled",
      entity: principal(principalId),
      before: method === "totp" ? { totp: true } : { secondFactor: true },
      after: method === "totp" ? { totp: false } : { secondFactor: false },
      metadata: { method, secondFactorLeft },
    });
  },

  backupCodesRegenerated(req: FastifyRequest, principalId: string, backupCodes: number): AuditEvent {
    return byRequest(req, {
      action: "mfa.backup_codes_regenerated",
      entity: principal(principalId),
      metadata: { backupCodesIssued: backupCodes },
    });
  },

  /**
   * A wrong code at the second step of a sign-in: the sign-in failed. Anonymous (the password alone
   * proves nobody here), naming the account whose challenge it was and the attempt it spent.
   */
  signInCodeRefused(req: FastifyRequest, challenge: MfaChallengeRow): AuditEvent {
    return byRequest(req, {
      action: challenge.kind === "admin" ? "admin.login_failed" : "auth.login_failed",
      actor: ANONYMOUS,
      entity: principal(challenge.principal_id),
      metadata: { reason: "mfa_code_invalid", attempt: challenge.attempts },
    });
  },
};
