import type { FastifyRequest } from "fastify";
import { ANONYMOUS, byRequest } from "../audit/actor.js";
import type { AuditActor, AuditEvent } from "../audit/entry.js";
import type { SecondFactor } from "../mfa/service.js";
import type { SessionEntry } from "../sessions/cache.js";
import type { SessionRow } from "../sessions/tables.js";

/**
 * The audit events of accounts and their sessions (AUDIT-2), one builder each, so what every event
 * says is readable in one place. All go to the platform log: an account belongs to no organisation.
 * They name accounts, sessions (by public id) and addresses; never a password, token or code.
 */

type Account = { readonly id: string; readonly email: string };

/** A user who proved who they are without a session yet: a password at sign-in, a mailed reset link. */
export const userActor = (u: Account): AuditActor => ({ type: "USER", id: u.id, email: u.email });
const user = (id: string) => ({ type: "user", id });

/** Why a sign-in was refused. The platform log is for staff: it may tell an unknown address from a wrong password. */
export type SignInRefusal =
  | "unknown_email"
  | "no_password"
  | "wrong_password"
  | "email_not_verified"
  | "mfa_code_missing"
  | "mfa_code_invalid"
  | "mfa_passkey_only"
  | "passkey_refused";

/** Why sessions were revoked in bulk. */
export type RevokeReason = "by_user" | "password_changed" | "password_reset";

export const identityEvents = {
  loginSucceeded(
    req: FastifyRequest,
    u: Account,
    session: SessionRow,
    secondFactor: boolean,
    method: "password" | "passkey" | "external" = "password",
    factor?: SecondFactor,
  ): AuditEvent {
    return byRequest(req, {
      action: "auth.login_succeeded",
      actor: userActor(u),
      entity: user(u.id),
      metadata: {
        email: u.email,
        method,
        sessionId: session.public_id,
        secondFactor,
        ...(factor ? { factor } : {}),
        userAgent: session.user_agent,
      },
    });
  },

  /**
   * Tokens minted from a password (and second factor), without a session (AUTH-9): a sign-in like the
   * page's, recorded as one, so the owner sees it among their sign-ins.
   */
  credentialsSucceeded(req: FastifyRequest, u: Account, secondFactor: boolean, orgId: string): AuditEvent {
    return byRequest(req, {
      action: "auth.login_succeeded",
      actor: userActor(u),
      entity: user(u.id),
      metadata: {
        email: u.email,
        method: "credentials",
        orgId,
        secondFactor,
        userAgent: String(req.headers["user-agent"] ?? "") || null,
      },
    });
  },

  /** Nobody is proved yet, so the actor is anonymous; the address typed is kept to spot guessing. */
  loginFailed(req: FastifyRequest, email: string, reason: SignInRefusal, userId?: string): AuditEvent {
    return byRequest(req, {
      action: "auth.login_failed",
      actor: ANONYMOUS,
      entity: userId ? user(userId) : null,
      metadata: { email, reason },
    });
  },

  /**
   * A sign-out. Signing out of an impersonation session ends the impersonation: it is recorded as its
   * stop, with the admin as actor and the user as entity (AUTHZ-4), like a stop from the admin console.
   */
  logout(req: FastifyRequest, session: SessionEntry): AuditEvent {
    if (session.impersonator_id)
      return byRequest(req, {
        action: "impersonation.stopped",
        actor: { type: "ADMIN", id: session.impersonator_id, email: null },
        entity: user(session.user_id),
        metadata: {
          userId: session.user_id,
          userEmail: session.email,
          sessionId: session.public_id,
          reason: "signed_out",
        },
      });
    return byRequest(req, {
      action: "auth.logout",
      entity: user(session.user_id),
      metadata: { sessionId: session.public_id },
    });
  },

  passwordChanged(req: FastifyRequest, u: Account): AuditEvent {
    return byRequest(req, {
      action: "user.password_changed",
      entity: user(u.id),
      metadata: { email: u.email },
    });
  },

  /** The reset link proved the mailbox: the account is the actor, though no session signed the request. */
  passwordReset(req: FastifyRequest, u: Account): AuditEvent {
    return byRequest(req, {
      action: "user.password_reset",
      actor: userActor(u),
      entity: user(u.id),
      metadata: { email: u.email, via: "reset_link" },
    });
  },

  /** One session revoked by its owner (the session list of `/v1/me/sessions`). */
  sessionRevoked(req: FastifyRequest, s: SessionRow): AuditEvent {
    return byRequest(req, {
      action: "session.revoked",
      entity: { type: "session", id: s.public_id },
      before: {
        userId: s.user_id,
        kind: s.kind,
        ip: s.ip,
        userAgent: s.user_agent,
        createdAt: new Date(s.created_at).toISOString(),
        impersonatedBy: s.impersonator_id,
      },
      metadata: { scope: "one" },
    });
  },

  /** Every other session (or, on a reset, every session) of an account revoked at once. */
  sessionsRevoked(
    req: FastifyRequest,
    userId: string,
    count: number,
    options: { reason: RevokeReason; actor?: AuditActor },
  ): AuditEvent {
    return byRequest(req, {
      action: "session.revoked",
      actor: options.actor,
      entity: user(userId),
      metadata: {
        scope: options.reason === "password_reset" ? "all" : "others",
        count,
        reason: options.reason,
      },
    });
  },
};
