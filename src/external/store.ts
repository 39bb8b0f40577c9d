import type { Db } from "../db/database.js";
import type { ExternalFlowRow, ExternalIdentityRow } from "./tables.js";

/** Queries of external identities and their flows (AUTH-11). */
export class ExternalStore {
  constructor(private readonly db: Db) {}

  list(userId: string, db: Db = this.db): Promise<ExternalIdentityRow[]> {
    return db
      .selectFrom("external_identities")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at")
      .execute();
  }

  bySubject(issuer: string, subject: string, db: Db = this.db): Promise<ExternalIdentityRow | undefined> {
    return db
      .selectFrom("external_identities")
      .selectAll()
      .where("issuer", "=", issuer)
      .where("subject", "=", subject)
      .executeTakeFirst();
  }

  async insert(db: Db, row: ExternalIdentityRow): Promise<void> {
    await db.insertInto("external_identities").values(row).execute();
  }

  async remove(db: Db, userId: string, id: string): Promise<boolean> {
    const r = await db
      .deleteFrom("external_identities")
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  async used(id: string, now: number): Promise<void> {
    await this.db
      .updateTable("external_identities")
      .set({ last_used_at: now })
      .where("id", "=", id)
      .execute();
  }

  async addFlow(row: ExternalFlowRow): Promise<void> {
    await this.db.insertInto("external_flows").values(row).execute();
  }

  /**
   * The flow, marked used, if it was live, unused, of `provider` (when named) and of one of `purposes`:
   * a conditional update, so only one caller wins; a flow of another kind is left alone.
   */
  async takeFlow(
    id: string,
    now: number,
    provider: string | undefined,
    purposes: readonly ExternalFlowRow["purpose"][],
  ): Promise<ExternalFlowRow | undefined> {
    const row = await this.db
      .selectFrom("external_flows")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row || row.used_at !== null || row.expires_at <= now) return undefined;
    if ((provider && row.provider !== provider) || !purposes.includes(row.purpose)) return undefined;
    const r = await this.db
      .updateTable("external_flows")
      .set({ used_at: now })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? row : undefined;
  }

  /** A live confirmation, without spending it (the page shows what would be linked). */
  async peekFlow(id: string, now: number): Promise<ExternalFlowRow | undefined> {
    const row = await this.db
      .selectFrom("external_flows")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row && row.used_at === null && row.expires_at > now ? row : undefined;
  }

  async purgeFlows(now: number): Promise<number> {
    const r = await this.db.deleteFrom("external_flows").where("expires_at", "<=", now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
