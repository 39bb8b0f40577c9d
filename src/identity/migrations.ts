import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** Accounts, email tokens and sessions (one migration, as first shipped). */
export function identityMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0002_identity": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("users")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("email", "text", (c) => c.notNull().unique())
          .addColumn("email_verified_at", "bigint")
          .addColumn("password_hash", "text")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("email_tokens")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("purpose", "text", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("consumed_at", "bigint")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("email_tokens_user")
          .on("email_tokens")
          .columns(["user_id", "purpose"])
          .execute();
        await db.schema
          .createTable("sessions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("public_id", "text", (c) => c.notNull().unique())
          .addColumn("user_id", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("last_seen_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("reauth_at", "bigint", (c) => c.notNull())
          .addColumn("ip", "text")
          .addColumn("user_agent", "text")
          .execute();
        await db.schema.createIndex("sessions_user").on("sessions").columns(["user_id", "kind"]).execute();
        for (const t of ["users", "email_tokens", "sessions"])
          await grantApp(db, ctx, t, ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
    // The name a person goes by, shown in the console; optional, never used to identify anyone.
    "0007_user_names": {
      async up(db: AnyDb) {
        await db.schema.alterTable("users").addColumn("name", "text").execute();
      },
    },
  };
}
