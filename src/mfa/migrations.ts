import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** TOTP secrets (sealed), backup codes (hashed) and sign-in challenges. */
export function mfaMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0003_mfa": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("mfa_totp")
          .addColumn("principal_id", "text", (c) => c.primaryKey())
          .addColumn("secret_sealed", "text", (c) => c.notNull())
          .addColumn("confirmed_at", "bigint")
          .addColumn("last_step", "bigint", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("mfa_backup_codes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("principal_id", "text", (c) => c.notNull())
          .addColumn("code_hash", "text", (c) => c.notNull())
          .addColumn("used_at", "bigint")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("mfa_backup_codes_principal")
          .on("mfa_backup_codes")
          .columns(["principal_id", "code_hash"])
          .execute();
        await db.schema
          .createTable("mfa_challenges")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("principal_id", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("consumed_at", "bigint")
          .execute();
        for (const t of ["mfa_totp", "mfa_backup_codes", "mfa_challenges"])
          await grantApp(db, ctx, t, ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  };
}
