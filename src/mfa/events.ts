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
  enabled(req: FastifyRequest, principalId: string, backupCodes: number): AuditEvent {
    return byRequest(req, {
      action: "mfa.enabled",
      entity: principal(principalId),
      before: { totp: false },
      after: { totp: true },
      metadata: { method: "totp", backupCodesIssued: backupCodes },
    });
  },

  disabled(req: FastifyRequest, principalId: string): AuditEvent {
    return byRequest(req, {
      action: "mfa.disabled",
      entity: principal(principalId),
      before: { totp: true },
      after: { totp: false },
      metadata: { method: "totp" },
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
