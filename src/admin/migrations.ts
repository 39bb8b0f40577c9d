import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** Platform admins: a table of their own, never a tenant role (AUTHZ-3). */
export function adminMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0004_platform_admins": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("platform_admins")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("email", "text", (c) => c.notNull().unique())
          .addColumn("password_hash", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await grantApp(db, ctx, "platform_admins", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
  };
}
