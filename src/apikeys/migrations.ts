import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/**
 * API keys. Looked up by hash before any organisation is known (the key names its organisation), so the
 * table is exempt from the tenant scope like `memberships` (TENANT_EXEMPT); every management query names
 * the organisation, and no route reaches a key of another one (KEY-1).
 */
export function apiKeyMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0008_api_keys": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("api_keys")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("prefix", "text", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull().unique())
          .addColumn("scopes", "text", (c) => c.notNull())
          .addColumn("allowed_origins", "text", (c) => c.notNull())
          .addColumn("allowed_ips", "text", (c) => c.notNull())
          .addColumn("expires_at", "bigint")
          .addColumn("revoked_at", "bigint")
          .addColumn("rotated_to", "text")
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("last_used_at", "bigint")
          .execute();
        await db.schema.createIndex("api_keys_org").on("api_keys").columns(["org_id", "id"]).execute();
        await grantApp(db, ctx, "api_keys", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
  };
}
