import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

/** What a migration needs to know beyond the schema builder: which engine, and who the app role is. */
export interface MigrationContext {
  readonly engine: "sqlite" | "postgres";
  readonly schema: string;
  readonly appRole: string;
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/**
 * Grants the app role exactly the privileges named, per table. Grants are per table on purpose: a blanket
 * "ALL TABLES" grant would hand UPDATE and DELETE on the append-only audit log back on every migration.
 */
export async function grantApp(
  db: AnyDb,
  ctx: MigrationContext,
  table: string,
  privileges: readonly ("SELECT" | "INSERT" | "UPDATE" | "DELETE")[],
): Promise<void> {
  if (ctx.engine !== "postgres") return;
  await sql`GRANT ${sql.raw(privileges.join(", "))} ON ${sql.id(ctx.schema, table)} TO ${sql.id(ctx.appRole)}`.execute(
    db,
  );
}

/**
 * Makes `table` a tenant table on PostgreSQL (AUTHZ-2, second wall): FORCE row-level security, with one
 * policy that admits only rows of the organisation set by `withOrg` for the current transaction, for
 * reads (USING) and writes (WITH CHECK) alike. With no organisation set, the setting is empty and no row
 * matches. SQLite has no RLS; there the data layer's TenantGuard is the wall.
 */
export async function enableTenantRls(db: AnyDb, ctx: MigrationContext, table: string): Promise<void> {
  if (ctx.engine !== "postgres") return;
  const t = sql.id(ctx.schema, table);
  await sql`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`DROP POLICY IF EXISTS org_isolation ON ${t}`.execute(db);
  await sql`CREATE POLICY org_isolation ON ${t} USING (org_id = current_setting('bulwark.org_id', true)) WITH CHECK (org_id = current_setting('bulwark.org_id', true))`.execute(
    db,
  );
}

/** The ordered migration set; names sort in application order. */
export function migrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0001_app_role": {
      async up(db) {
        if (ctx.engine !== "postgres") return;
        // The role the server works as: no login, no BYPASSRLS, so policies bind it even when the process
        // connects as a superuser and switches with SET ROLE. Roles are cluster-wide; tolerate a racing creator.
        await sql`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${sql.lit(ctx.appRole)}) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', ${sql.lit(ctx.appRole)});
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$`.execute(db);
        await sql`DO $$ BEGIN
          EXECUTE format('GRANT %I TO %I', ${sql.lit(ctx.appRole)}, current_user);
        EXCEPTION WHEN duplicate_object OR invalid_grant_operation THEN NULL;
        END $$`.execute(db);
        await sql`GRANT USAGE ON SCHEMA ${sql.id(ctx.schema)} TO ${sql.id(ctx.appRole)}`.execute(db);
      },
    },
    "0002_identity": {
      async up(db) {
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
    "0003_mfa": {
      async up(db) {
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
    "0004_platform_admins": {
      async up(db) {
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
    "0005_organizations": {
      async up(db) {
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
      async up(db) {
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
    "0007_impersonation": {
      async up(db) {
        await db.schema.alterTable("sessions").addColumn("impersonator_id", "text").execute();
      },
    },
  };
}

export function migrationProvider(
  ctx: MigrationContext,
  extra?: (ctx: MigrationContext) => Record<string, Migration>,
): MigrationProvider {
  return { getMigrations: async () => ({ ...migrations(ctx), ...extra?.(ctx) }) };
}
