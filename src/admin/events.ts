import type { FastifyRequest } from "fastify";
import { ANONYMOUS, byRequest } from "../audit/actor.js";
import type { AuditEvent } from "../audit/entry.js";
import type { SessionEntry } from "../sessions/cache.js";
import type { EndedImpersonation } from "../sessions/store.js";
import type { SessionRow } from "../sessions/tables.js";

/**
 * The audit events of platform staff (AUDIT-2, AUTHZ-4): their sign-ins and impersonations, in the
 * platform log. An impersonation names both identities: the admin as actor, the user as entity, and
 * the user's id and address again in the metadata so the entry reads on its own.
 */

/** Why an admin sign-in was refused. Every one answers the same (INVALID_CREDENTIALS); the log tells them apart. */
export type AdminRefusal = "unknown_email" | "wrong_password" | "totp_not_enrolled" | "mfa_code_invalid";

const admin = (id: string) => ({ type: "admin", id });
const user = (id: string) => ({ type: "user", id });

export const adminEvents = {
  loginSucceeded(req: FastifyRequest, a: { id: string; email: string }, session: SessionRow): AuditEvent {
    return byRequest(req, {
      action: "admin.login_succeeded",
      actor: { type: "ADMIN", id: a.id, email: a.email },
      entity: admin(a.id),
      metadata: { email: a.email, sessionId: session.public_id, userAgent: session.user_agent },
    });
  },

  loginFailed(req: FastifyRequest, email: string, reason: AdminRefusal, adminId?: string): AuditEvent {
    return byRequest(req, {
      action: "admin.login_failed",
      actor: ANONYMOUS,
      entity: adminId ? admin(adminId) : null,
      metadata: { email, reason },
    });
  },

  logout(req: FastifyRequest, session: SessionEntry): AuditEvent {
    return byRequest(req, {
      action: "admin.logout",
      entity: admin(session.user_id),
      metadata: { sessionId: session.public_id },
    });
  },

  impersonationStarted(
    req: FastifyRequest,
    target: { id: string; email: string },
    session: SessionRow,
    details: { reason: string; minutes: number },
  ): AuditEvent {
    return byRequest(req, {
      action: "impersonation.started",
      entity: user(target.id),
      metadata: {
        userId: target.id,
        userEmail: target.email,
        reason: details.reason,
        minutes: details.minutes,
        expiresAt: new Date(session.expires_at).toISOString(),
        sessionId: session.public_id,
      },
    });
  },

  /** `stopped`: from the admin console; `admin_signed_out`: the admin's own session ended it. */
  impersonationStopped(
    req: FastifyRequest,
    ended: EndedImpersonation,
    reason: "stopped" | "admin_signed_out",
  ): AuditEvent {
    return byRequest(req, {
      action: "impersonation.stopped",
      entity: user(ended.userId),
      metadata: { userId: ended.userId, userEmail: ended.userEmail, sessionId: ended.sessionId, reason },
    });
  },
};
