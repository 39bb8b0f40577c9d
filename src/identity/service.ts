import type { FastifyRequest } from "fastify";
import type { AuditService } from "../audit/service.js";
import type { Config } from "../config/load.js";
import type { Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { Logger } from "../log/logger.js";
import type { Mail, Mailer } from "../mail/mailer.js";
import { templates } from "../mail/templates.js";
import { type AuthLimiters, isCredentialFailure, limitedAttempt } from "../ratelimit/auth-limits.js";
import type { SessionService } from "../sessions/service.js";
import type { SessionRow } from "../sessions/tables.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import type { RangeChecker } from "./breach.js";
import { identityEvents, userActor } from "./events.js";
import type { PasswordHasher } from "./password.js";
import { checkPassword } from "./policy.js";
import type { IdentityStore } from "./store.js";
import type { EmailTokenRow, UserRow } from "./tables.js";

export interface PublicUser {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly emailVerified: boolean;
}

export const publicUser = (u: UserRow): PublicUser => ({
  id: u.id,
  email: u.email,
  name: u.name ?? null,
  emailVerified: u.email_verified_at !== null,
});

/**
 * Trimmed, Unicode-normalised (NFC) and lower-cased: one account per address, however it is typed; a
 * composed "josé" and a decomposed "jose\u0301" are the same address.
 */
export const normaliseEmail = (email: string): string => email.trim().normalize("NFC").toLowerCase();

/** A wrong current password on a signed-in check: a field error for the form, counted like a failed sign-in. */
class IncorrectPassword extends AppError {
  constructor(field: string) {
    super("VALIDATION_FAILED", "The password is incorrect.", [
      { in: "body", field, message: "is incorrect" },
    ]);
  }
}
const wrongPassword = (err: unknown): boolean => err instanceof IncorrectPassword || isCredentialFailure(err);

export interface IdentityDeps {
  readonly store: IdentityStore;
  readonly hasher: PasswordHasher;
  readonly sessions: SessionService;
  readonly audit: AuditService;
  readonly mailer: Mailer;
  readonly config: Config;
  readonly log: Logger;
  readonly limits: AuthLimiters;
  readonly range?: RangeChecker;
  readonly now?: () => number;
}

/**
 * Accounts and credentials: sign-up, email verification, sign-in, password reset and change. Responses
 * never tell whether an address has an account (sign-up, reset), and unknown addresses cost the same
 * argon2 work as known ones (sign-in), so neither content nor timing enumerates users.
 */
export class IdentityService {
  private readonly now: () => number;

  constructor(private readonly d: IdentityDeps) {
    this.now = d.now ?? (() => Date.now());
  }

  /** Deletes verification and reset links once expired (GDPR-3): they name their account. */
  purgeExpiredLinks(): Promise<number> {
    return this.d.store.purgeTokens(this.now());
  }

  /** AUTH-3, AUTH-12. Creates an unverified account and mails a verification link; an existing address gets a notice instead. */
  async signup(emailInput: string, password: string): Promise<void> {
    const email = normaliseEmail(emailInput);
    this.checkSignupAllowed(email);
    await this.assertPolicy(password, "password", email);
    const now = this.now();
    const user: UserRow = {
      id: newId("usr", now),
      email,
      email_verified_at: null,
      password_hash: await this.d.hasher.hash(password),
      created_at: now,
      updated_at: now,
    };
    if (await this.d.store.createUser(user)) {
      this.later(() => this.sendVerification(user), "verification not sent");
    } else if ((await this.d.limits.accountNotice.hit(email)).allowed) {
      // Bounded per address: anyone can type someone else's address into the sign-up form.
      this.mail(templates.alreadyRegistered(email, `${this.d.config.publicUrl}/forgot-password`));
    }
  }

  /**
   * AUTH-11, AUTH-12: an account for an address an external provider asserted as verified, under the
   * same sign-up mode and domain rules as a password sign-up. It has no password (a reset sets one) and
   * its address counts as verified, as the provider verified it. Undefined when the address already has
   * an account (the caller then asks that account's owner to confirm a link, never links silently).
   */
  async createExternalUser(emailInput: string): Promise<UserRow | undefined> {
    const email = normaliseEmail(emailInput);
    this.checkSignupAllowed(email);
    const now = this.now();
    const user: UserRow = {
      id: newId("usr", now),
      email,
      email_verified_at: now,
      password_hash: null,
      created_at: now,
      updated_at: now,
    };
    return (await this.d.store.createUser(user)) ? user : undefined;
  }

  /** The account with this address, if any. */
  findUserByEmail(emailInput: string): Promise<UserRow | undefined> {
    return this.d.store.findUserByEmail(normaliseEmail(emailInput));
  }

  /**
   * Mails a fresh verification link when the address has an unverified account; silent otherwise. Same
   * work before answering either way (one lookup): the token is written and mailed after, off the request.
   */
  async resendVerification(emailInput: string): Promise<void> {
    const user = await this.d.store.findUserByEmail(normaliseEmail(emailInput));
    if (user && user.email_verified_at === null)
      this.later(() => this.sendVerification(user), "verification not sent");
  }

  /** Runs mail work after the response: its duration must not tell one account state from another. */
  private later(work: () => Promise<void>, failure: string): void {
    setImmediate(() => {
      work().catch((err: Error) => this.d.log.error({ reason: err.message }, failure));
    });
  }

  /** AUTH-3: spends a verification token (single use, expiring) and marks the address verified. */
  async verifyEmail(token: string): Promise<PublicUser> {
    const now = this.now();
    const userId = await this.d.store.consumeToken(sha256(token), "verify_email", now);
    if (!userId) throw new AppError("TOKEN_INVALID");
    await this.d.store.markVerified(userId, now);
    await this.d.store.consumeAllTokens(userId, "verify_email", now);
    const user = await this.d.store.findUserById(userId);
    if (!user) throw new AppError("TOKEN_INVALID");
    return publicUser(user);
  }

  /**
   * AUTH-4: mails a reset link if the address has an account. Same answer and same work either way:
   * both paths do one lookup before answering; the token is written and mailed after, off the request.
   */
  async forgotPassword(emailInput: string): Promise<void> {
    const email = normaliseEmail(emailInput);
    const user = await this.d.store.findUserByEmail(email);
    if (!user) return;
    this.later(() => this.issueReset(user), "reset token not issued");
  }

  private async issueReset(user: UserRow): Promise<void> {
    const token = newSecret("bwr");
    await this.d.store.insertToken(
      this.tokenRow(sha256(token), user.id, "reset_password", this.now(), this.d.config.auth.resetTtlMs),
    );
    this.mail(
      templates.resetPassword(
        user.email,
        `${this.d.config.publicUrl}/reset-password?token=${token}`,
        this.d.config.auth.resetTtlMs / 60_000,
      ),
    );
  }

  /**
   * AUTH-4: a valid reset token sets the new password and revokes every session of the account. The
   * token, the password and the reset's audit record are one transaction; the revocation is the next,
   * with its own record. Hashing happens before either (argon2 must not hold a transaction open).
   */
  async resetPassword(token: string, password: string, by: FastifyRequest): Promise<void> {
    // The token is read first (not spent) so the policy can know the account; a refused password leaves
    // the link usable for a better one.
    const owner = await this.d.store.liveTokenUser(sha256(token), "reset_password", this.now());
    const account = owner ? await this.d.store.findUserById(owner) : undefined;
    if (!account) throw new AppError("TOKEN_INVALID");
    await this.assertPolicy(password, "password", account.email);
    const hash = await this.d.hasher.hash(password);
    const now = this.now();
    const userId = await this.d.store.transaction(async (store, tx) => {
      const spent = await store.consumeToken(sha256(token), "reset_password", now);
      if (!spent) throw new AppError("TOKEN_INVALID");
      await store.setPasswordHash(spent, hash, now);
      await store.consumeAllTokens(spent, "reset_password", now);
      // Whoever controls the mailbox just proved it; that also verifies the address.
      await store.markVerified(spent, now);
      await this.d.audit.record(tx, identityEvents.passwordReset(by, { id: spent, email: account.email }));
      return spent;
    });
    const actor = userActor({ id: userId, email: account.email });
    await this.d.sessions.revokeAll(userId, "portal", {
      record: (n) => identityEvents.sessionsRevoked(by, userId, n, { reason: "password_reset", actor }),
    });
    this.mail(templates.passwordChanged(account.email));
  }

  /**
   * GDPR-2: an account being erased can no longer be reached from its address or password (sign-in,
   * reset, sign-up's "account exists"): both are replaced in the caller's transaction, the address by
   * `placeholder` (unique, undeliverable). Its other credentials go with its rows.
   */
  async retire(userId: string, placeholder: string, tx: Db): Promise<void> {
    await this.d.store.retire(userId, placeholder, this.now(), tx);
    this.d.sessions.forget(userId);
  }

  /** Sets (or, with null, clears) the name the user goes by; every node's cached sessions show it at once. */
  async rename(userId: string, name: string | null): Promise<void> {
    await this.d.store.setName(userId, name, this.now());
    this.d.sessions.forget(userId);
  }

  /**
   * Changes the password after checking the current one; other sessions are revoked, this one kept.
   * The password and its audit record are one transaction, the revocation and its record the next.
   */
  async changePassword(
    session: SessionRow,
    current: string,
    next: string,
    by: FastifyRequest,
  ): Promise<void> {
    const user = await this.checkPassword(session.user_id, current, "currentPassword");
    await this.assertPolicy(next, "newPassword", user.email);
    const hash = await this.d.hasher.hash(next);
    const now = this.now();
    await this.d.store.transaction(async (store, tx) => {
      await store.setPasswordHash(user.id, hash, now);
      await store.consumeAllTokens(user.id, "reset_password", now);
      await this.d.audit.record(tx, identityEvents.passwordChanged(by, user));
    });
    await this.d.sessions.revokeAll(user.id, "portal", {
      keep: session,
      record: (n) => identityEvents.sessionsRevoked(by, user.id, n, { reason: "password_changed" }),
    });
    await this.d.sessions.reauthenticated(session);
    this.mail(templates.passwordChanged(user.email));
  }

  /**
   * Creates an account that is verified from the start: for invitation acceptance, where the token that
   * arrived by mail already proves the address. Throws CONFLICT if the address has an account.
   */
  async createVerifiedUser(emailInput: string, password: string): Promise<UserRow> {
    this.assertDomainAllowed(emailInput);
    await this.assertPolicy(password, "password", normaliseEmail(emailInput));
    const now = this.now();
    const user: UserRow = {
      id: newId("usr", now),
      email: normaliseEmail(emailInput),
      email_verified_at: now,
      password_hash: await this.d.hasher.hash(password),
      created_at: now,
      updated_at: now,
    };
    if (!(await this.d.store.createUser(user))) throw new AppError("ACCOUNT_EXISTS");
    return user;
  }

  /** The password gate of sensitive operations (AUTH-8, AUTH-14): a wrong password is a field error. */
  async confirmPassword(session: SessionRow, password: string): Promise<UserRow> {
    const user = await this.checkPassword(session.user_id, password, "password");
    await this.d.sessions.reauthenticated(session);
    return user;
  }

  /**
   * A signed-in user's password, checked under the per-account limit (AUTH-7): a stolen session cannot
   * guess it faster than sign-in could, and guesses sent at once are reserved before any is evaluated.
   */
  private checkPassword(userId: string, password: string, field: string): Promise<UserRow> {
    return limitedAttempt(
      [[this.d.limits.passwordCheck, userId]],
      async () => {
        const user = await this.d.store.findUserById(userId);
        if (!user || !(await this.d.hasher.verify(user.password_hash, password)))
          throw new IncorrectPassword(field);
        return user;
      },
      [],
      wrongPassword,
    );
  }

  findUser(id: string): Promise<UserRow | undefined> {
    return this.d.store.findUserById(id);
  }

  /** Accounts by id, `limit` after the cursor `after` (platform admins' user list). */
  listUsers(limit: number, after: string | undefined, search?: string): Promise<UserRow[]> {
    return this.d.store.listUsers(limit, after, search);
  }

  /** Sends without making the caller wait: mail latency must not reveal whether an account exists. */
  mail(m: Mail): void {
    this.d.mailer
      .send(m)
      .catch((err: Error) => this.d.log.error({ reason: err.message, subject: m.subject }, "mail not sent"));
  }

  /** AUTH-2: throws VALIDATION_FAILED with field errors when a new password fails the policy. */
  private async assertPolicy(password: string, field: string, email: string): Promise<void> {
    const problems = await checkPassword(password, this.d.config.auth.password, field, this.d.range, {
      email,
    });
    if (problems.length)
      throw new AppError("VALIDATION_FAILED", "The password does not meet the policy.", problems);
  }

  private checkSignupAllowed(email: string): void {
    if (this.d.config.auth.signupMode === "invite")
      throw new AppError("SIGNUP_NOT_ALLOWED", "Sign-up is by invitation only.");
    this.assertDomainAllowed(email);
  }

  /**
   * AUTH-12: in `domains` mode an address outside the allowed domains gets no account by any door:
   * sign-up, or an invitation (checked when it is sent and when it is accepted).
   */
  assertDomainAllowed(emailInput: string): void {
    const { signupMode, allowedDomains } = this.d.config.auth;
    const email = normaliseEmail(emailInput);
    if (signupMode === "domains" && !allowedDomains.includes(email.slice(email.lastIndexOf("@") + 1)))
      throw new AppError(
        "SIGNUP_NOT_ALLOWED",
        "This address is outside the domains allowed to have accounts.",
      );
  }

  private async sendVerification(user: UserRow): Promise<void> {
    const token = newSecret("bwv");
    await this.d.store.insertToken(
      this.tokenRow(sha256(token), user.id, "verify_email", this.now(), this.d.config.auth.verifyTtlMs),
    );
    this.mail(
      templates.verifyEmail(
        user.email,
        `${this.d.config.publicUrl}/verify-email?token=${token}`,
        this.d.config.auth.verifyTtlMs / 3_600_000,
      ),
    );
  }

  private tokenRow(
    id: string,
    userId: string,
    purpose: EmailTokenRow["purpose"],
    now: number,
    ttl: number,
  ): EmailTokenRow {
    return { id, user_id: userId, purpose, expires_at: now + ttl, consumed_at: null, created_at: now };
  }
}
