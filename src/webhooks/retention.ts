import { setImmediate } from "node:timers/promises";
import type { Database } from "../db/database.js";

const DAY = 86_400_000;
/** Finished deliveries one pass of the loop deletes (with their attempts). */
const BATCH = 1000;

/**
 * Webhook delivery logs' retention (GDPR-3): finished deliveries (succeeded or dead-lettered) older than
 * RETENTION_DELIVERIES_DAYS go with their attempts (the first kilobytes of each receiver's answer), then
 * the messages none of whose deliveries remain. Work still due is never touched: a pending or sending
 * delivery keeps its attempts and its message, however old. Attempts are tenant rows, deleted in their
 * organisation's scope, only for the deliveries being deleted. In batches, yielding between them.
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
    for (;;) {
      const finished = await this.db.global
        .selectFrom("webhook_deliveries")
        .select(["id", "org_id"])
        .where("status", "in", ["succeeded", "dead"])
        .where("updated_at", "<", cutoff)
        .orderBy("id")
        .limit(BATCH)
        .execute();
      if (finished.length === 0) break;
      const byOrg = new Map<string, string[]>();
      for (const d of finished) byOrg.set(d.org_id, [...(byOrg.get(d.org_id) ?? []), d.id]);
      for (const [org, ids] of byOrg) {
        const r = await this.db.withOrg(org, (tx) =>
          tx.deleteFrom("webhook_attempts").where("delivery_id", "in", ids).executeTakeFirst(),
        );
        gone += Number(r.numDeletedRows);
      }
      // Still finished and old: a replay meanwhile made it due again, and then it stays.
      const deleted = await this.db.global
        .deleteFrom("webhook_deliveries")
        .where(
          "id",
          "in",
          finished.map((d) => d.id),
        )
        .where("status", "in", ["succeeded", "dead"])
        .where("updated_at", "<", cutoff)
        .executeTakeFirst();
      gone += Number(deleted.numDeletedRows);
      await setImmediate();
      if (finished.length < BATCH) break;
    }
    for (;;) {
      const old = this.db.global
        .selectFrom("webhook_messages")
        .select("webhook_messages.id")
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
        .limit(BATCH);
      const r = await this.db.global.deleteFrom("webhook_messages").where("id", "in", old).executeTakeFirst();
      const n = Number(r.numDeletedRows);
      gone += n;
      if (n < BATCH) return gone;
      await setImmediate();
    }
  }
}
