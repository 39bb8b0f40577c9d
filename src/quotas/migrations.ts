import type { Kysely, Migration } from "kysely";
import { enableTenantRls, grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** Quota overrides and sent notices: tenant data (forced RLS on PostgreSQL). */
export function quotaMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0009_quotas": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("org_quotas")
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("unit", "text", (c) => c.notNull())
          .addColumn("allowance", "bigint", (c) => c.notNull())
          .addColumn("mode", "text", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("org_quotas_pk", ["org_id", "unit"])
          .execute();
        await db.schema
          .createTable("quota_notices")
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("unit", "text", (c) => c.notNull())
          .addColumn("month", "text", (c) => c.notNull())
          .addColumn("threshold", "integer", (c) => c.notNull())
          .addColumn("sent_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("quota_notices_pk", ["org_id", "unit", "month", "threshold"])
          .execute();
        for (const t of ["org_quotas", "quota_notices"]) {
          await enableTenantRls(db, ctx, t);
          await grantApp(db, ctx, t, ["SELECT", "INSERT", "UPDATE"]);
        }
      },
    },
  };
}
