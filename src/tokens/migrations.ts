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
  };
}
