import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** Passkeys (AUTH-13) and the one-time challenges of their ceremonies; neither is tenant data. */
export function passkeyMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0021_passkeys": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("passkeys")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("public_key", "text", (c) => c.notNull())
          .addColumn("counter", "bigint", (c) => c.notNull())
          .addColumn("transports", "text", (c) => c.notNull())
          .addColumn("device_type", "text", (c) => c.notNull())
          .addColumn("backed_up", "integer", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("last_used_at", "bigint")
          .execute();
        await db.schema.createIndex("passkeys_user").on("passkeys").column("user_id").execute();
        await grantApp(db, ctx, "passkeys", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
        await db.schema
          .createTable("webauthn_challenges")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text")
          .addColumn("purpose", "text", (c) => c.notNull())
          .addColumn("challenge", "text", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("used_at", "bigint")
          .execute();
        await grantApp(db, ctx, "webauthn_challenges", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  };
}
