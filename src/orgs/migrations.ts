import type { Kysely, Migration } from "kysely";
import { enableTenantRls, grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** Organisations, memberships and invitations (tenant data: forced RLS on PostgreSQL). */
export function orgMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0005_organizations": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("organizations")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("slug", "text", (c) => c.notNull().unique())
          .addColumn("require_mfa", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("memberships")
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("role", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("memberships_pk", ["org_id", "user_id"])
          .execute();
        await db.schema.createIndex("memberships_user").on("memberships").column("user_id").execute();
        for (const t of ["organizations", "memberships"])
          await grantApp(db, ctx, t, ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
    "0006_invitations": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("invitations")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("public_id", "text", (c) => c.notNull().unique())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
          .addColumn("email", "text", (c) => c.notNull())
          .addColumn("role", "text", (c) => c.notNull())
          .addColumn("invited_by", "text", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("accepted_at", "bigint")
          .addColumn("revoked_at", "bigint")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("invitations_org")
          .on("invitations")
          .columns(["org_id", "email"])
          .execute();
        await enableTenantRls(db, ctx, "invitations");
        await grantApp(db, ctx, "invitations", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
  };
}
