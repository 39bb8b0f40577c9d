import type { FastifyInstance } from "fastify";
import { impersonationRoutes } from "../admin/impersonation.js";
import { adminRoutes } from "../admin/plugin.js";
import { AdminService } from "../admin/service.js";
import type { BulwarkContext } from "../app.js";
import { Sealer } from "../crypto/seal.js";
import type { Logger } from "../log/logger.js";
import { createMailer, type Mailer } from "../mail/mailer.js";
import { mfaRoutes } from "../mfa/plugin.js";
import { MfaService } from "../mfa/service.js";
import { MfaStore } from "../mfa/store.js";
import { authLimiters, registerAuthLimitControls } from "../ratelimit/auth-limits.js";
import { MemoryCounterStore } from "../ratelimit/limiter.js";
import { SessionCache } from "../sessions/cache.js";
import { cookieName } from "../sessions/cookies.js";
import { authGuard } from "../sessions/guard.js";
import { SessionService } from "../sessions/service.js";
import { SessionStore } from "../sessions/store.js";
import { RangeChecker } from "./breach.js";
import { meRoutes } from "./me.js";
import { PasswordHasher } from "./password.js";
import { identityRoutes } from "./plugin.js";
import { IdentityService } from "./service.js";
import { IdentityStore } from "./store.js";

/**
 * Wires identity: stores, services, the auth guard (before any route, so it guards them all), the
 * routes, mail health, and the security-page claims with their configured numbers.
 */
export async function registerIdentity(
  app: FastifyInstance,
  ctx: BulwarkContext,
  log: Logger,
  mailer: Mailer = createMailer(ctx.config),
): Promise<{ identity: IdentityService; sessions: SessionService; mfa: MfaService; admins: AdminService }> {
  const { config, db, posture } = ctx;
  const cache = new SessionCache(30_000, 50_000, ctx.bus);
  const sessions = new SessionService(new SessionStore(db.global), config, undefined, cache);
  const hasher = new PasswordHasher(config.auth.argon2);
  const range = config.auth.rangeUrl
    ? new RangeChecker(config.auth.rangeUrl, config.auth.rangeTimeoutMs, log)
    : undefined;
  const identity = new IdentityService({
    store: new IdentityStore(db.global),
    hasher,
    sessions,
    mailer,
    config,
    log,
    ...(range ? { range } : {}),
  });
  const limits = authLimiters(new MemoryCounterStore(), config);
  const mfa = new MfaService(
    new MfaStore(db.global),
    new Sealer(config.secret),
    new URL(config.publicUrl).hostname,
  );
  if (mailer.health) ctx.health.add(mailer.health);

  await app.register(authGuard, { config, sessions });
  await app.register(identityRoutes, { config, identity, sessions, limits, mfa });
  await app.register(mfaRoutes, { identity, mfa });
  const admins = new AdminService(db.global, hasher, mfa, config);
  await app.register(adminRoutes, { config, admins, sessions, limits });
  await app.register(impersonationRoutes, { config, identity, sessions });
  app.addHook("onReady", async () => {
    if ((await admins.count()) === 0)
      log.warn(
        "No platform admin yet. Create one with: npm run --silent bulwark -- admin create --email you@example.com --password-stdin",
      );
  });
  await app.register(meRoutes, { identity, sessions });

  const a = config.auth;
  posture.register({
    id: "AUTH-1",
    title: "argon2id password hashing",
    claim: `Passwords are hashed with argon2id (memory ${a.argon2.memoryKiB} KiB, ${a.argon2.iterations} iterations, parallelism ${a.argon2.parallelism}) and a unique salt; imported bcrypt hashes are upgraded at the next sign-in. Plaintext is never stored or logged.`,
    settings: { ...a.argon2 },
    enabled: true,
  });
  posture.register({
    id: "AUTH-2",
    title: "Password policy and breached-password check",
    claim: `Passwords need ${a.password.minLength} to ${a.password.maxLength} characters${a.password.requireMixed ? ", a digit and an upper-case letter" : ""}; common breached passwords are refused from an offline list${range ? ", and the k-anonymity range service is consulted (failing open)" : ""}.`,
    settings: {
      minLength: a.password.minLength,
      maxLength: a.password.maxLength,
      requireMixed: a.password.requireMixed,
      rangeCheck: Boolean(range),
    },
    enabled: true,
  });
  posture.register({
    id: "AUTH-3",
    title: "Email verification",
    claim: `New accounts must confirm their address through a single-use link that expires in ${a.verifyTtlMs / 3_600_000} hours before they can sign in.`,
    settings: { linkHours: a.verifyTtlMs / 3_600_000 },
    enabled: true,
  });
  posture.register({
    id: "AUTH-4",
    title: "Password reset",
    claim: `Reset links are single-use, stored hashed and expire in ${a.resetTtlMs / 60_000} minutes; unknown addresses get the same answer; a reset signs the account out everywhere.`,
    settings: { linkMinutes: a.resetTtlMs / 60_000 },
    enabled: true,
  });
  posture.register({
    id: "AUTH-5",
    title: "Server-side cookie sessions",
    claim: `Sessions live in an HttpOnly, SameSite=Lax${config.production ? ", Secure, __Host-" : ""} cookie holding a random token stored only as its hash; they end after ${a.sessionAbsoluteMs / 3_600_000} hours or ${a.sessionIdleMs / 60_000} idle minutes, can be listed and revoked, and state-changing requests need a per-session CSRF token.`,
    settings: {
      cookie: cookieName(config, "portal"),
      absoluteHours: a.sessionAbsoluteMs / 3_600_000,
      idleMinutes: a.sessionIdleMs / 60_000,
    },
    enabled: true,
  });
  posture.register({
    id: "AUTH-12",
    title: "Sign-up mode",
    claim:
      a.signupMode === "open"
        ? "Anyone may sign up (email verification required)."
        : a.signupMode === "domains"
          ? "Only addresses in the allowed domains may sign up."
          : "Sign-up is by invitation only.",
    settings: { mode: a.signupMode, allowedDomains: [...a.allowedDomains] },
    enabled: true,
  });
  posture.register({
    id: "AUTH-8",
    title: "TOTP two-factor authentication",
    claim:
      "Users can turn on TOTP (RFC 6238) behind a password check, confirm it with a code, and get 10 single-use backup codes stored hashed; sign-in then needs a code, each code works once, and turning it off needs the password and a code. An organisation can require it of every member.",
    settings: { backupCodes: 10, digits: 6, periodSeconds: 30 },
    enabled: true,
  });
  posture.register({
    id: "AUTH-6",
    title: "Separate doors for staff and tenants",
    claim:
      "Platform staff sign in at their own endpoint with their own cookie; a tenant session is never accepted on the admin surface, nor an admin session on the portal.",
    settings: { portalCookie: cookieName(config, "portal"), adminCookie: cookieName(config, "admin") },
    enabled: true,
  });
  posture.register({
    id: "AUTHZ-3",
    title: "Platform admins are not a tenant role",
    claim: `Admins live in their own table, are created only from the command line, and sign in with a password and TOTP${config.production ? " (required)" : ""}.`,
    enabled: true,
  });
  posture.register({
    id: "AUTH-14",
    title: "Re-authentication for sensitive operations",
    claim: `Changing two-factor settings needs the password entered within the last ${a.reauthMs / 60_000} minutes.`,
    settings: { windowMinutes: a.reauthMs / 60_000 },
    enabled: true,
  });
  posture.register({
    id: "AUTHZ-4",
    title: "Impersonation, marked and time-limited",
    claim:
      "Platform admins can act as a user to debug, with a stated reason, for at most 60 minutes (30 by default); every response carries X-Bulwark-Impersonation naming the admin, credentials and second factors are out of reach, start and stop are recorded with both identities, and admins cannot be impersonated.",
    settings: { defaultMinutes: 30, maxMinutes: 60 },
    enabled: true,
  });
  registerAuthLimitControls(posture, config);
  return { identity, sessions, mfa, admins };
}
