import type { AuditService } from "../audit/service.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { Stamp } from "../orgs/stamp.js";
import type { DeliveryListing, WebhookStore } from "./store.js";
import type { WebhookAttemptRow } from "./tables.js";

/**
 * An organisation's deliveries as its managers see them (HOOK-3, HOOK-5): listed, one with every
 * attempt, and a finished one replayed with its webhook-id. The dispatcher makes them; this reads them.
 */
export class DeliveryService {
  constructor(
    private readonly db: Database,
    private readonly store: WebhookStore,
    private readonly audit: AuditService,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  async list(
    orgId: string,
    filter: { endpointId?: string | undefined; status?: string | undefined },
    limit: number,
    after?: string,
  ): Promise<DeliveryListing[]> {
    return this.store.deliveries(this.db.global, orgId, filter, limit, after);
  }

  /** A delivery with every attempt, oldest first. */
  async get(
    orgId: string,
    id: string,
  ): Promise<{ delivery: DeliveryListing; attempts: WebhookAttemptRow[] }> {
    const delivery = await this.store.delivery(this.db.global, orgId, id);
    if (!delivery) throw new AppError("NOT_FOUND");
    const attempts = await this.db.readOrg(orgId, (tx) => this.store.attempts(tx, orgId, id));
    return { delivery, attempts };
  }

  /**
   * Sends a finished delivery (succeeded or dead-lettered) again from the first step of the schedule,
   * with the same `webhook-id` (HOOK-3, HOOK-5). A delivery still on its way is refused (409).
   */
  async replay(orgId: string, id: string, by: Stamp): Promise<DeliveryListing> {
    const now = this.clock();
    await this.db.withOrg(orgId, async (tx) => {
      const found = await this.store.delivery(tx, orgId, id);
      if (!found) throw new AppError("NOT_FOUND");
      const endpoint = await this.store.endpoint(tx, orgId, found.endpoint_id);
      if (endpoint?.enabled !== 1)
        throw new AppError(
          "CONFLICT",
          endpoint
            ? "This delivery's endpoint is disabled: enable it before replaying."
            : "This delivery's endpoint was deleted.",
        );
      if (!(await this.store.replay(tx, orgId, id, now)))
        throw new AppError(
          "CONFLICT",
          "This delivery is still on its way; replay it once it has succeeded or failed.",
        );
      await this.audit.record(
        tx,
        by({ action: "webhook.delivery_replayed", orgId, entity: { type: "webhook_delivery", id } }),
      );
    });
    return (await this.store.delivery(this.db.global, orgId, id))!;
  }
}
