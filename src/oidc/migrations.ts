import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/**
 * The OpenID Connect provider (AUTH-10): clients per organisation (exempt from the tenant scope, like
 * API keys: the provider resolves a `client_id` before it knows the organisation) and the provider's
 * own state, which belongs to no organisation.
 */
export function oidcMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0020_oidc": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("oidc_clients")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("secret_hash", "text")
          .addColumn("redirect_uris", "text", (c) => c.notNull())
          .addColumn("post_logout_redirect_uris", "text", (c) => c.notNull())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("oidc_clients_org")
          .on("oidc_clients")
          .columns(["org_id", "id"])
          .execute();
        await grantApp(db, ctx, "oidc_clients", ["SELECT", "INSERT", "UPDATE", "DELETE"]);

        await db.schema
          .createTable("oidc_state")
          .addColumn("model", "text", (c) => c.notNull())
          .addColumn("id", "text", (c) => c.notNull())
          .addColumn("payload", "text", (c) => c.notNull())
          .addColumn("grant_id", "text")
          .addColumn("uid", "text")
          .addColumn("expires_at", "bigint")
          .addColumn("consumed_at", "bigint")
          .addPrimaryKeyConstraint("oidc_state_pk", ["model", "id"])
          .execute();
        await db.schema.createIndex("oidc_state_grant").on("oidc_state").column("grant_id").execute();
        await db.schema.createIndex("oidc_state_uid").on("oidc_state").column("uid").execute();
        await db.schema.createIndex("oidc_state_expiry").on("oidc_state").column("expires_at").execute();
        await grantApp(db, ctx, "oidc_state", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  };
}
