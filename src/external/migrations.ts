import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** External identities (AUTH-11) and the flows that link them; neither is tenant data. */
export function externalMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0022_external_signin": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("external_identities")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("provider", "text", (c) => c.notNull())
          .addColumn("issuer", "text", (c) => c.notNull())
          .addColumn("subject", "text", (c) => c.notNull())
          .addColumn("email", "text")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("last_used_at", "bigint")
          .addUniqueConstraint("external_identities_subject", ["issuer", "subject"])
          .execute();
        await db.schema
          .createIndex("external_identities_user")
          .on("external_identities")
          .column("user_id")
          .execute();
        await grantApp(db, ctx, "external_identities", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
        await db.schema
          .createTable("external_flows")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("provider", "text", (c) => c.notNull())
          .addColumn("purpose", "text", (c) => c.notNull())
          .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
          .addColumn("verifier_sealed", "text")
          .addColumn("nonce", "text")
          .addColumn("next", "text", (c) => c.notNull())
          .addColumn("subject", "text")
          .addColumn("email", "text")
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("used_at", "bigint")
          .execute();
        await grantApp(db, ctx, "external_flows", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  };
}
