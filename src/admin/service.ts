import type { FastifyRequest } from "fastify";
import type { AuditService } from "../audit/service.js";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import type { PasswordHasher } from "../identity/password.js";
import { checkPassword } from "../identity/policy.js";
import { normaliseEmail } from "../identity/service.js";
import type { MfaService } from "../mfa/service.js";
import { newId } from "../util/ids.js";
import { type AdminRefusal, adminEvents } from "./events.js";
import type { AdminStore } from "./store.js";
import type { AdminRow } from "./tables.js";

export interface AdminOptions {
  /** Where refused sign-ins are recorded (AUDIT-2). Without it (the admin CLI, unit tests) nothing is. */
  readonly audit?: AuditService;
  readonly now?: () => number;
}

/** Platform admins: created from the command line only, signed in with password and TOTP. */
export class AdminService {
  private readonly now: () => number;
  private readonly audit: AuditService | undefined;

  constructor(
    private readonly store: AdminStore,
    private readonly hasher: PasswordHasher,
    private readonly mfa: MfaService,
    private readonly config: Config,
    options: AdminOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.audit = options.audit;
  }

  count(): Promise<number> {
    return this.store.count();
  }

  /**
   * Creates an admin with a TOTP factor already enrolled (the CLI prints it once). Without TOTP
   * (`withTotp: false`) only outside production: production admins cannot sign in without it.
   */
  async create(
    emailInput: string,
    password: string,
    withTotp: boolean,
  ): Promise<{ admin: AdminRow; otpauthUri?: string; secret?: string; backupCodes?: string[] }> {
    const email = normaliseEmail(emailInput);
    if (!withTotp && this.config.production) throw new AppError("ADMIN_TOTP_REQUIRED");
    const problems = await checkPassword(password, this.config.auth.password, "password", undefined, {
      email,
    });
    if (problems.length)
      throw new AppError(
        "VALIDATION_FAILED",
        `The password ${problems.map((p) => p.message).join(", ")}.`,
        problems,
      );
    const now = this.now();
    const admin: AdminRow = {
      id: newId("adm", now),
      email,
      password_hash: await this.hasher.hash(password),
      created_at: now,
      updated_at: now,
    };
    if (!(await this.store.insert(admin)))
      throw new AppError("ADMIN_EXISTS", `An admin with the email ${email} already exists.`);
    if (!withTotp) return { admin };
    const enrolment = await this.mfa.startEnrolment(admin.id, `admin:${email}`);
    const backupCodes = await this.mfa.enrolConfirmed(admin.id);
    return { admin, otpauthUri: enrolment.otpauthUri, secret: enrolment.secret, backupCodes };
  }

  /**
   * Password, then TOTP when enrolled (always in production). Every failure looks the same to the
   * caller; the platform log records which it was (buffered: a refusal writes nothing else, and the
   * failure counter is the rate limiter's).
   */
  async authenticate(
    emailInput: string,
    password: string,
    code: string | undefined,
    by: FastifyRequest,
  ): Promise<AdminRow> {
    const email = normaliseEmail(emailInput);
    const refuse = (reason: AdminRefusal, adminId?: string) => {
      this.audit?.recordSoon(adminEvents.loginFailed(by, email, reason, adminId));
      return new AppError("INVALID_CREDENTIALS");
    };
    const admin = await this.store.findByEmail(email);
    if (!admin) {
      await this.hasher.verifyDummy(password);
      throw refuse("unknown_email");
    }
    if (!(await this.hasher.verify(admin.password_hash, password))) throw refuse("wrong_password", admin.id);
    // Past the password, every refusal answers exactly as a wrong password does: a missing or wrong
    // code must not confirm to a guesser that the password was right.
    const hasTotp = await this.mfa.hasTotp(admin.id);
    // An admin without TOTP (created outside production) cannot sign in to a production server at all.
    if (!hasTotp && this.config.production) throw refuse("totp_not_enrolled", admin.id);
    if (hasTotp && !(code && (await this.mfa.verify(admin.id, code))))
      throw refuse("mfa_code_invalid", admin.id);
    return admin;
  }
}
