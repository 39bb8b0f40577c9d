import type { Database } from "../db/database.js";

const DAY = 86_400_000;

/**
 * Webhook delivery logs' retention (GDPR-3): finished deliveries, their attempts (with the first
 * kilobytes of each receiver's answer) and the messages they carried are deleted once older than
 * RETENTION_DELIVERIES_DAYS. Pending work is never touched: a delivery still due keeps its message, and a
 * message is deleted only when no delivery of it remains. Attempts are tenant rows, deleted in each
 * organisation's scope.
 */
export class DeliveryLogRetention {
  constructor(
    private readonly db: Database,
    private readonly days: number,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /** One pass; returns how many rows went (attempts, deliveries and messages). */
  async purge(): Promise<number> {
    const cutoff = this.clock() - this.days * DAY;
    let gone = 0;
    let after = "";
    for (;;) {
      const orgs = await this.db.global
        .selectFrom("organizations")
        .select("id")
        .where("id", ">", after)
        .orderBy("id")
        .limit(500)
        .execute();
      if (orgs.length === 0) break;
      for (const { id } of orgs) {
        const r = await this.db.withOrg(id, (tx) =>
          tx.deleteFrom("webhook_attempts").where("at", "<", cutoff).executeTakeFirst(),
        );
        gone += Number(r.numDeletedRows);
      }
      after = orgs.at(-1)!.id;
    }
    const deliveries = await this.db.global
      .deleteFrom("webhook_deliveries")
      .where("status", "in", ["succeeded", "dead"])
      .where("updated_at", "<", cutoff)
      .executeTakeFirst();
    const messages = await this.db.global
      .deleteFrom("webhook_messages")
      .where("fanned_out", "=", 1)
      .where("created_at", "<", cutoff)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("webhook_deliveries")
              .select("webhook_deliveries.id")
              .whereRef("webhook_deliveries.message_id", "=", "webhook_messages.id"),
          ),
        ),
      )
      .executeTakeFirst();
    return gone + Number(deliveries.numDeletedRows) + Number(messages.numDeletedRows);
  }
}
