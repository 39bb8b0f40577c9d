import type { Db } from "../db/database.js";
import type { BackupCodeRow, MfaChallengeRow, TotpRow } from "./tables.js";

/** The only code that touches the MFA tables. Every "use once" operation is one conditional UPDATE. */
export class MfaStore {
  constructor(private readonly db: Db) {}

  /**
   * Runs `fn` on one transaction: the store on it, and the handle itself for the audit record of the
   * change (AUDIT-2), so the change and its record commit or roll back together.
   */
  transaction<T>(fn: (store: MfaStore, tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => fn(new MfaStore(tx), tx));
  }

  getTotp(principalId: string): Promise<TotpRow | undefined> {
    return this.db
      .selectFrom("mfa_totp")
      .selectAll()
      .where("principal_id", "=", principalId)
      .executeTakeFirst();
  }

  /** Replaces a pending (unconfirmed) enrolment; never touches a confirmed one. */
  async putPending(row: TotpRow): Promise<void> {
    await this.db
      .deleteFrom("mfa_totp")
      .where("principal_id", "=", row.principal_id)
      .where("confirmed_at", "is", null)
      .execute();
    await this.db.insertInto("mfa_totp").values(row).execute();
  }

  /** Confirms a pending enrolment at `step`; false if there was none (or it was confirmed meanwhile). */
  async confirm(principalId: string, now: number, step: number): Promise<boolean> {
    const r = await this.db
      .updateTable("mfa_totp")
      .set({ confirmed_at: now, last_step: step })
      .where("principal_id", "=", principalId)
      .where("confirmed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Accepts time step `step` once: true for exactly one caller, and never for a step at or before the last. */
  async advanceStep(principalId: string, step: number): Promise<boolean> {
    const r = await this.db
      .updateTable("mfa_totp")
      .set({ last_step: step })
      .where("principal_id", "=", principalId)
      .where("last_step", "<", step)
      .where("confirmed_at", "is not", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async deleteTotp(principalId: string, options: { keepBackupCodes?: boolean } = {}): Promise<void> {
    await this.db.deleteFrom("mfa_totp").where("principal_id", "=", principalId).execute();
    if (!options.keepBackupCodes) await this.deleteBackupCodes(principalId);
  }

  async deleteBackupCodes(principalId: string): Promise<void> {
    await this.db.deleteFrom("mfa_backup_codes").where("principal_id", "=", principalId).execute();
  }

  /** Whether any backup code (used or not) exists: codes are issued once per first factor. */
  async hasBackupCodes(principalId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom("mfa_backup_codes")
      .select("id")
      .where("principal_id", "=", principalId)
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  async replaceBackupCodes(principalId: string, rows: BackupCodeRow[]): Promise<void> {
    await this.db.deleteFrom("mfa_backup_codes").where("principal_id", "=", principalId).execute();
    await this.db.insertInto("mfa_backup_codes").values(rows).execute();
  }

  /** consumeOne for a backup code: exactly one caller gets true. */
  async consumeBackupCode(principalId: string, codeHash: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("mfa_backup_codes")
      .set({ used_at: now })
      .where("principal_id", "=", principalId)
      .where("code_hash", "=", codeHash)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async unusedBackupCodes(principalId: string): Promise<number> {
    const r = await this.db
      .selectFrom("mfa_backup_codes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("principal_id", "=", principalId)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Deletes second-factor steps that expired before `before`; returns how many. */
  async purgeChallenges(before: number): Promise<number> {
    const r = await this.db.deleteFrom("mfa_challenges").where("expires_at", "<", before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async createChallenge(row: MfaChallengeRow): Promise<void> {
    await this.db.insertInto("mfa_challenges").values(row).execute();
  }

  /** The principal of a live, unspent challenge (read only: nothing is counted). */
  async challengePrincipal(id: string, now: number): Promise<string | undefined> {
    const r = await this.db
      .selectFrom("mfa_challenges")
      .select("principal_id")
      .where("id", "=", id)
      .where("consumed_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return r?.principal_id;
  }

  /** Counts one attempt on a live challenge; returns it, or undefined if it is spent, expired or out of attempts. */
  async attemptChallenge(id: string, now: number, maxAttempts: number): Promise<MfaChallengeRow | undefined> {
    const r = await this.db
      .updateTable("mfa_challenges")
      .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
      .where("id", "=", id)
      .where("consumed_at", "is", null)
      .where("expires_at", ">", now)
      .where("attempts", "<", maxAttempts)
      .returningAll()
      .executeTakeFirst();
    return r;
  }

  async consumeChallenge(id: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("mfa_challenges")
      .set({ consumed_at: now })
      .where("id", "=", id)
      .where("consumed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
