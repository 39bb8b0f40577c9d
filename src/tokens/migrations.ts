import { type Kysely, type Migration, sql } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/**
 * Token signing keys (AUTH-9). A partial unique index keeps one `next` and one `current` key, whatever
 * number of nodes start or rotate at once: the loser of a race fails on it and reads the winner's keys.
 */
export function tokenMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0017_signing_keys": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("signing_keys")
          .addColumn("kid", "text", (c) => c.primaryKey())
          .addColumn("alg", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("public_jwk", "text", (c) => c.notNull())
          .addColumn("private_jwk", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("activated_at", "bigint")
          .addColumn("retired_at", "bigint")
          .execute();
        const table = ctx.engine === "postgres" ? sql.id(ctx.schema, "signing_keys") : sql.id("signing_keys");
        await sql`CREATE UNIQUE INDEX signing_keys_one_per_state ON ${table} (state)
          WHERE state IN ('next', 'current')`.execute(db);
        await grantApp(db, ctx, "signing_keys", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
    "0018_refresh_tokens": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("token_families")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("scopes", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("revoked_at", "bigint")
          .addColumn("revoked_reason", "text")
          .execute();
        await db.schema
          .createIndex("token_families_user")
          .on("token_families")
          .columns(["user_id", "org_id"])
          .execute();
        await db.schema
          .createTable("refresh_tokens")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("family_id", "text", (c) =>
            c.notNull().references("token_families.id").onDelete("cascade"),
          )
          .addColumn("token_hash", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("used_at", "bigint")
          .execute();
        await db.schema
          .createIndex("refresh_tokens_family")
          .on("refresh_tokens")
          .column("family_id")
          .execute();
        await grantApp(db, ctx, "token_families", ["SELECT", "INSERT", "UPDATE"]);
        await grantApp(db, ctx, "refresh_tokens", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
    // The daily purge of families ended long ago (and, by cascade, their tokens).
    "0019_token_families_purge": {
      async up(db: AnyDb) {
        await grantApp(db, ctx, "token_families", ["DELETE"]);
        await grantApp(db, ctx, "refresh_tokens", ["DELETE"]);
      },
    },
  };
}
