import type { Config } from "../config/load.js";
import type { Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { PasswordHasher } from "../identity/password.js";
import { checkPassword } from "../identity/policy.js";
import { normaliseEmail } from "../identity/service.js";
import type { MfaService } from "../mfa/service.js";
import { newId } from "../util/ids.js";
import type { AdminRow } from "./tables.js";

/** Platform admins: created from the command line only, signed in with password and TOTP. */
export class AdminService {
  constructor(
    private readonly db: Db,
    private readonly hasher: PasswordHasher,
    private readonly mfa: MfaService,
    private readonly config: Config,
  ) {}

  async count(): Promise<number> {
    const r = await this.db
      .selectFrom("platform_admins")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
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
    if (!withTotp && this.config.production)
      throw new AppError("UNPROCESSABLE", "Production admins need TOTP.");
    const problems = await checkPassword(password, this.config.auth.password, "password");
    if (problems.length)
      throw new AppError(
        "VALIDATION_FAILED",
        `The password ${problems.map((p) => p.message).join(", ")}.`,
        problems,
      );
    const now = Date.now();
    const admin: AdminRow = {
      id: newId("adm", now),
      email,
      password_hash: await this.hasher.hash(password),
      created_at: now,
      updated_at: now,
    };
    const res = await this.db
      .insertInto("platform_admins")
      .values(admin)
      .onConflict((oc) => oc.column("email").doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) !== 1)
      throw new AppError("CONFLICT", `An admin with the email ${email} already exists.`);
    if (!withTotp) return { admin };
    const enrolment = await this.mfa.startEnrolment(admin.id, `admin:${email}`);
    const backupCodes = await this.mfa.enrolConfirmed(admin.id);
    return { admin, otpauthUri: enrolment.otpauthUri, secret: enrolment.secret, backupCodes };
  }

  /** Password, then TOTP when enrolled (always in production). Every failure looks the same. */
  async authenticate(emailInput: string, password: string, code: string | undefined): Promise<AdminRow> {
    const admin = await this.db
      .selectFrom("platform_admins")
      .selectAll()
      .where("email", "=", normaliseEmail(emailInput))
      .executeTakeFirst();
    if (!admin) {
      await this.hasher.verifyDummy(password);
      throw new AppError("INVALID_CREDENTIALS");
    }
    if (!(await this.hasher.verify(admin.password_hash, password))) throw new AppError("INVALID_CREDENTIALS");
    const hasTotp = await this.mfa.isEnabled(admin.id);
    if (!hasTotp && this.config.production)
      throw new AppError("FORBIDDEN", "Admins need TOTP in production; recreate this admin with the CLI.");
    if (hasTotp && !(code && (await this.mfa.verify(admin.id, code)))) throw new AppError("MFA_CODE_INVALID");
    return admin;
  }

  /** Organisations with their member counts, by id (cursor pagination). */
  listOrgs(limit: number, after: string | undefined) {
    let q = this.db
      .selectFrom("organizations")
      .leftJoin("memberships", "memberships.org_id", "organizations.id")
      .select([
        "organizations.id",
        "organizations.name",
        "organizations.slug",
        "organizations.created_at",
        (eb) => eb.fn.count<number>("memberships.user_id").as("members"),
      ])
      .groupBy(["organizations.id", "organizations.name", "organizations.slug", "organizations.created_at"])
      .orderBy("organizations.id")
      .limit(limit);
    if (after) q = q.where("organizations.id", ">", after);
    return q.execute();
  }

  listUsers(limit: number, after: string | undefined) {
    let q = this.db
      .selectFrom("users")
      .select(["id", "email", "email_verified_at", "created_at"])
      .orderBy("id")
      .limit(limit);
    if (after) q = q.where("id", ">", after);
    return q.execute();
  }
}
