import type { Kysely, Migration } from "kysely";
import { enableTenantRls, grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** Idempotency keys (IDEM-1): one row per organisation, principal, route and key. */
export function idempotencyMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0015_idempotency_keys": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("idempotency_keys")
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("principal", "text", (c) => c.notNull())
          .addColumn("route", "text", (c) => c.notNull())
          .addColumn("key_hash", "text", (c) => c.notNull())
          .addColumn("fingerprint", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("status", "integer")
          .addColumn("body", "text")
          .addColumn("content_type", "text")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("idempotency_keys_pk", ["org_id", "principal", "route", "key_hash"])
          .execute();
        await db.schema
          .createIndex("idempotency_keys_expiry")
          .on("idempotency_keys")
          .columns(["org_id", "expires_at"])
          .execute();
        await enableTenantRls(db, ctx, "idempotency_keys");
        await grantApp(db, ctx, "idempotency_keys", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  };
}
