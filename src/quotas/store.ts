import type { Database } from "../db/database.js";
import type { OrgQuotaRow } from "./tables.js";

/** Quota overrides and notices, each statement inside the organisation's scope. */
export class QuotaStore {
  constructor(private readonly db: Database) {}

  overrides(orgId: string): Promise<OrgQuotaRow[]> {
    return this.db.readOrg(orgId, (tx) =>
      tx.selectFrom("org_quotas").selectAll().where("org_id", "=", orgId).execute(),
    );
  }

  async setOverride(row: OrgQuotaRow): Promise<void> {
    await this.db.withOrg(row.org_id, (tx) =>
      tx
        .insertInto("org_quotas")
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(["org_id", "unit"])
            .doUpdateSet({ allowance: row.allowance, mode: row.mode, updated_at: row.updated_at }),
        )
        .execute(),
    );
  }

  /**
   * Records that the `threshold` notice of this month went out; false when it already had (on this node
   * or another): the primary key decides, so the mail is sent once.
   */
  async claimNotice(
    orgId: string,
    unit: string,
    month: string,
    threshold: number,
    now: number,
  ): Promise<boolean> {
    const r = await this.db.withOrg(orgId, (tx) =>
      tx
        .insertInto("quota_notices")
        .values({ org_id: orgId, unit, month, threshold, sent_at: now })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }
}
