import type { FastifyReply, FastifyRequest } from "fastify";
import type { Capability } from "../capability.js";
import { AppError } from "../http/errors.js";
import type { PersonalData } from "../privacy/personal.js";
import { RangeChecker } from "./breach.js";
import { CredentialCheck } from "./credentials.js";
import { meRoutes } from "./me.js";
import { mfaRoutes } from "./mfa-routes.js";
import { identityMigrations } from "./migrations.js";
import { PasswordHasher } from "./password.js";
import { identityRoutes } from "./plugin.js";
import { IdentityService, type PublicUser } from "./service.js";
import { SignIn } from "./sign-in.js";
import { IdentityStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    identity: IdentityService;
    /** Password and second factor in one request, for callers without a session (tokens, AUTH-9). */
    credentials: CredentialCheck;
    /** Opens a portal session for a user another capability proved (a passkey, AUTH-13). */
    portalSignIn: PortalSignIn;
  }
}

/**
 * Accounts: sign-up, verification, sign-in (with the second-factor step), recovery, and the signed-in
 * user's own settings (sessions, password, two-factor), with the security-page claims they back.
 */
/** Starts a portal session the way a password sign-in does: the cookie set, the CSRF token answered. */
export interface PortalSignIn {
  start(
    req: FastifyRequest,
    reply: FastifyReply,
    userId: string,
    /**
     * `passkey`: a passkey alone; `password+passkey` and `external+passkey`: a password or an external
     * provider, then a passkey as the second factor; `external`: an external provider, no second factor.
     */
    method: "passkey" | "password+passkey" | "external+passkey" | "external",
  ): Promise<{ user: PublicUser; csrfToken: string }>;
}

export const identityCapability: Capability = {
  name: "identity",
  personalData: [
    { table: "users", column: "id", omit: ["password_hash"], erase: "account" },
    // A mailed link's row is the SHA-256 of its token.
    { table: "email_tokens", column: "user_id", omit: ["id"] },
  ] satisfies PersonalData[],
  migrations: identityMigrations,
  async register(app, ctx) {
    const { config } = ctx;
    const sessions = ctx.service("sessions");
    const mfa = ctx.service("mfa");
    const limits = ctx.service("authLimits");
    const range = config.auth.rangeUrl
      ? new RangeChecker(config.auth.rangeUrl, config.auth.rangeTimeoutMs, ctx.log)
      : undefined;
    const deps = {
      store: new IdentityStore(ctx.db.global),
      hasher: new PasswordHasher(config.auth.argon2),
      sessions,
      audit: ctx.service("audit"),
      mailer: ctx.service("mailer"),
      config,
      log: ctx.log,
      limits,
      ...(range ? { range } : {}),
    };
    const identity = new IdentityService(deps);
    ctx.provide("identity", identity);
    ctx
      .service("jobs")
      .schedule("identity.purge", { everyMs: 3_600_000 }, () => identity.purgeExpiredLinks());

    const signIn = new SignIn(deps, identity);
    ctx.provide("credentials", new CredentialCheck(signIn, mfa, limits, deps.audit));
    ctx.provide("portalSignIn", {
      async start(req, reply, userId, method) {
        const user = await identity.findUser(userId);
        if (!user || user.email_verified_at === null) throw new AppError("UNAUTHENTICATED");
        return signIn.open(
          req,
          reply,
          user,
          method === "passkey" || method === "external"
            ? { secondFactor: method === "passkey", method }
            : {
                secondFactor: true,
                method: method === "external+passkey" ? "external" : "password",
                factor: "passkey",
              },
        );
      },
    });
    await app.register(identityRoutes, {
      config,
      identity,
      signIn,
      limits,
      mfa,
    });
    await app.register(mfaRoutes, { identity, mfa, limits });
    await app.register(meRoutes, { identity, sessions });

    const a = config.auth;
    ctx.posture.register({
      id: "AUTH-1",
      title: "argon2id password hashing",
      claim: `Passwords are hashed with argon2id (memory ${a.argon2.memoryKiB} KiB, ${a.argon2.iterations} iterations, parallelism ${a.argon2.parallelism}) and a unique salt; imported bcrypt hashes are upgraded at the next sign-in. Plaintext is never stored or logged.`,
      settings: { ...a.argon2 },
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTH-2",
      title: "Password policy and breached-password check",
      claim: `Passwords need ${a.password.minLength} to ${a.password.maxLength} characters${a.password.requireMixed ? ", a digit and an upper-case letter" : ""}; common breached passwords are refused from an offline list, and so are guessable ones (a zxcvbn strength score below 3: repeats, sequences, keyboard patterns, common words) and any containing the account's email address${range ? ", and the k-anonymity range service is consulted (failing open)" : ""}.`,
      settings: {
        minLength: a.password.minLength,
        maxLength: a.password.maxLength,
        requireMixed: a.password.requireMixed,
        rangeCheck: Boolean(range),
      },
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTH-3",
      title: "Email verification",
      claim: `New accounts must confirm their address through a single-use link that expires in ${a.verifyTtlMs / 3_600_000} hours before they can sign in. Signing up with an address that already has an account tells its owner by mail instead, at most twice a day.`,
      settings: { linkHours: a.verifyTtlMs / 3_600_000 },
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTH-4",
      title: "Password reset",
      claim: `Reset links are single-use, stored hashed and expire in ${a.resetTtlMs / 60_000} minutes; unknown addresses get the same answer; a reset signs the account out everywhere.`,
      settings: { linkMinutes: a.resetTtlMs / 60_000 },
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTH-12",
      title: "Sign-up mode",
      claim:
        a.signupMode === "open"
          ? "Anyone may sign up (email verification required)."
          : a.signupMode === "domains"
            ? "Only addresses in the allowed domains may sign up, be invited or accept an invitation."
            : "Sign-up is by invitation only.",
      settings: { mode: a.signupMode, allowedDomains: [...a.allowedDomains] },
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTH-14",
      title: "Re-authentication for sensitive operations",
      claim: `Turning two-factor on or off and renewing backup codes each need the password: entered with the request, or, to confirm a new factor or to lift an organisation's two-factor requirement, within the last ${a.reauthMs / 60_000} minutes.`,
      settings: { windowMinutes: a.reauthMs / 60_000 },
      enabled: true,
    });
  },
};
