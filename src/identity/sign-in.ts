import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../http/errors.js";
import { templates } from "../mail/templates.js";
import type { SecondFactor } from "../mfa/service.js";
import type { SessionEntry } from "../sessions/cache.js";
import { sessionCookie } from "../sessions/cookies.js";
import type { SessionRow } from "../sessions/tables.js";
import { identityEvents, type SignInRefusal } from "./events.js";
import {
  type IdentityDeps,
  type IdentityService,
  normaliseEmail,
  type PublicUser,
  publicUser,
} from "./service.js";
import type { UserRow } from "./tables.js";

/** How the first factor of a sign-in was proved. */
export type SignInMethod = "password" | "passkey" | "external";

/**
 * The portal's door (AUTH-1, AUTH-5): password check, session start and sign-out, each recorded in the
 * platform log (AUDIT-2). A sign-in is recorded with the session row it opens, a sign-out with the
 * deletion; a refused password is buffered, as it writes nothing else.
 */
export class SignIn {
  private readonly now: () => number;

  constructor(
    private readonly d: IdentityDeps,
    private readonly identity: IdentityService,
  ) {
    this.now = d.now ?? (() => Date.now());
  }

  /**
   * AUTH-1: checks email and password; upgrades a bcrypt (or weaker argon2) hash now that the plaintext
   * is in hand. Throws INVALID_CREDENTIALS for an unknown address or a wrong password alike. A refusal is
   * recorded (AUDIT-2) buffered: nothing else is written (the failure counter is the rate limiter's).
   */
  async authenticate(emailInput: string, password: string, by: FastifyRequest): Promise<UserRow> {
    const email = normaliseEmail(emailInput);
    const refuse = (
      reason: SignInRefusal,
      userId?: string,
      code: "INVALID_CREDENTIALS" | "EMAIL_NOT_VERIFIED" = "INVALID_CREDENTIALS",
    ) => {
      this.d.audit.recordSoon(identityEvents.loginFailed(by, email, reason, userId));
      return new AppError(code);
    };
    const user = await this.d.store.findUserByEmail(email);
    if (!user?.password_hash) {
      await this.d.hasher.verifyDummy(password);
      throw refuse(user ? "no_password" : "unknown_email", user?.id);
    }
    if (!(await this.d.hasher.verify(user.password_hash, password))) throw refuse("wrong_password", user.id);
    if (this.d.hasher.needsRehash(user.password_hash)) {
      await this.d.store.setPasswordHash(user.id, await this.d.hasher.hash(password), this.now());
      this.d.log.info({ userId: user.id }, "password hash upgraded to argon2id");
    }
    if (user.email_verified_at === null) throw refuse("email_not_verified", user.id, "EMAIL_NOT_VERIFIED");
    return user;
  }

  /**
   * Opens a portal session for a user who proved who they are (password, and the second factor when
   * on); the sign-in is recorded with the session row (AUDIT-2). A device and address the account has
   * no live session on earns the owner a new-sign-in notice.
   */
  async startSession(
    by: FastifyRequest,
    user: UserRow,
    options: { secondFactor: boolean; method?: SignInMethod; factor?: SecondFactor },
  ): Promise<{ token: string; row: SessionRow }> {
    const ua = by.headers["user-agent"];
    const { token, row, familiar } = await this.d.sessions.create(
      user.id,
      "portal",
      { ip: by.ip, userAgent: ua },
      {
        record: (s) =>
          identityEvents.loginSucceeded(by, user, s, options.secondFactor, options.method, options.factor),
        // Only a password sign-in opens the re-authentication window (AUTH-14).
        passwordProved: (options.method ?? "password") === "password",
      },
    );
    if (!familiar) this.identity.mail(templates.newSignIn(user.email, by.ip, String(ua ?? "")));
    return { token, row };
  }

  /**
   * `startSession` answered to a browser: the cookie carries the session token, the body the user and
   * the CSRF token for this session. Every way into the portal (password, second factor, passkey) ends here.
   */
  async open(
    by: FastifyRequest,
    reply: FastifyReply,
    user: UserRow,
    options: Parameters<SignIn["startSession"]>[2],
  ): Promise<{ user: PublicUser; csrfToken: string }> {
    const { token, row } = await this.startSession(by, user, options);
    reply.header("set-cookie", sessionCookie(this.d.config, "portal", token));
    return { user: publicUser(user), csrfToken: this.d.sessions.csrfToken(row) };
  }

  /** Ends the request's session; recorded with its deletion (an impersonation's as its stop). */
  async signOut(by: FastifyRequest, session: SessionEntry): Promise<void> {
    await this.d.sessions.revoke(session, { record: identityEvents.logout(by, session) });
  }
}
