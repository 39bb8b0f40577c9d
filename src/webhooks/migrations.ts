import type { Kysely, Migration } from "kysely";
import { enableTenantRls, grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/**
 * Webhooks (HOOK-1…HOOK-7). Endpoints and attempts are tenant tables (row-level security on
 * PostgreSQL). The outbox and the delivery queue are read by the dispatcher for every organisation at
 * once, so they are exempt from the tenant scope (TENANT_EXEMPT); every route's query names its org.
 */
export function webhookMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0014_webhooks": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("webhook_endpoints")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("url", "text", (c) => c.notNull())
          .addColumn("description", "text", (c) => c.notNull())
          .addColumn("event_types", "text", (c) => c.notNull())
          .addColumn("enabled", "integer", (c) => c.notNull())
          .addColumn("disabled_reason", "text")
          .addColumn("secret", "text", (c) => c.notNull())
          .addColumn("previous_secret", "text")
          .addColumn("previous_until", "bigint")
          .addColumn("legacy_signature", "integer", (c) => c.notNull())
          .addColumn("failures", "integer", (c) => c.notNull())
          .addColumn("breaker", "text", (c) => c.notNull())
          .addColumn("breaker_until", "bigint")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("webhook_endpoints_org")
          .on("webhook_endpoints")
          .columns(["org_id", "id"])
          .execute();
        await enableTenantRls(db, ctx, "webhook_endpoints");
        await grantApp(db, ctx, "webhook_endpoints", ["SELECT", "INSERT", "UPDATE", "DELETE"]);

        await db.schema
          .createTable("webhook_messages")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("body", "text", (c) => c.notNull())
          .addColumn("endpoint_id", "text")
          .addColumn("fanned_out", "integer", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("webhook_messages_pending")
          .on("webhook_messages")
          .columns(["fanned_out", "org_id", "id"])
          .execute();
        await grantApp(db, ctx, "webhook_messages", ["SELECT", "INSERT", "UPDATE"]);

        await db.schema
          .createTable("webhook_deliveries")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("message_id", "text", (c) =>
            c.notNull().references("webhook_messages.id").onDelete("cascade"),
          )
          .addColumn("endpoint_id", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("next_at", "bigint", (c) => c.notNull())
          .addColumn("lease_until", "bigint")
          .addColumn("claimed_by", "text")
          .addColumn("last_status", "integer")
          .addColumn("last_error", "text")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .addUniqueConstraint("webhook_deliveries_once", ["message_id", "endpoint_id"])
          .execute();
        await db.schema
          .createIndex("webhook_deliveries_due")
          .on("webhook_deliveries")
          .columns(["status", "next_at"])
          .execute();
        await db.schema
          .createIndex("webhook_deliveries_endpoint")
          .on("webhook_deliveries")
          .columns(["org_id", "endpoint_id", "id"])
          .execute();
        await grantApp(db, ctx, "webhook_deliveries", ["SELECT", "INSERT", "UPDATE"]);

        await db.schema
          .createTable("webhook_attempts")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("delivery_id", "text", (c) => c.notNull())
          .addColumn("endpoint_id", "text", (c) => c.notNull())
          .addColumn("at", "bigint", (c) => c.notNull())
          .addColumn("duration_ms", "bigint", (c) => c.notNull())
          .addColumn("status", "integer")
          .addColumn("response", "text")
          .addColumn("error", "text")
          .execute();
        await db.schema
          .createIndex("webhook_attempts_delivery")
          .on("webhook_attempts")
          .columns(["org_id", "delivery_id", "at"])
          .execute();
        await enableTenantRls(db, ctx, "webhook_attempts");
        await grantApp(db, ctx, "webhook_attempts", ["SELECT", "INSERT"]);
      },
    },
    // GDPR-3: the retention job deletes old delivery logs (src/webhooks/retention.ts).
    "0024_webhook_retention": {
      async up(db: AnyDb) {
        for (const t of ["webhook_messages", "webhook_deliveries", "webhook_attempts"])
          await grantApp(db, ctx, t, ["DELETE"]);
      },
    },
  };
}
