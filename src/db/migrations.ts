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

/** The foundation's migration: the app role. Every capability brings its own (`Capability.migrations`). */
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
  };
}

export function migrationProvider(
  ctx: MigrationContext,
  extra?: (ctx: MigrationContext) => Record<string, Migration>,
  alreadyRun: readonly string[] = [],
): MigrationProvider {
  return {
    getMigrations: async () => {
      const set: Record<string, Migration> = { ...migrations(ctx), ...extra?.(ctx) };
      // Migrations the database ran that this process does not know (an embedding app's, when a command
      // runs without its extensions): already applied, so nothing to do, and no reason to refuse.
      for (const name of alreadyRun) set[name] ??= { up: async () => {} };
      return set;
    },
  };
}
