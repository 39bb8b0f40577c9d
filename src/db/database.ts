import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import {
  Kysely,
  type KyselyPlugin,
  type Migration,
  Migrator,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  PostgresDialect,
  type QueryResult,
  type RootOperationNode,
  SqliteDialect,
  sql,
  type UnknownRow,
} from "kysely";
import pg from "pg";

// Timestamps are epoch milliseconds in bigint columns; pg returns int8 as a string by default (values
// past 2^53 would lose precision as numbers). Ours never approach that, so parse them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

import type { Config } from "../config/load.js";
import type { Logger } from "../log/logger.js";
import { type MigrationContext, migrationProvider } from "./migrations.js";
import { cachingDatabase } from "./sqlite-cache.js";
import type { Tables } from "./tables.js";
import { TenantGuard } from "./tenant-guard.js";

export type Engine = "sqlite" | "postgres";
export type Db = Kysely<Tables>;

/**
 * Tables that carry `org_id` but are not tenant data. `memberships` says which organisations a principal
 * may enter, so it is read before any tenant context exists (to resolve one); its writes are guarded by
 * the organisations service. Every other table with `org_id` is tenant data, scoped twice.
 */
export const TENANT_EXEMPT: ReadonlySet<string> = new Set(["memberships"]);

/** Refuses every statement but SELECT: the guard of `readOrg`'s transaction-less scope on SQLite. */
class SelectOnly implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind !== "SelectQueryNode") throw new Error("readOrg is read-only: use withOrg to write");
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** Tenant id passed to `withOrg`; prefixed ids (`org_…`) in practice, checked only for shape here. */
const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Bulwark's storage: one typed Kysely handle per engine, and the only way to reach tenant tables.
 *
 * - `global` refuses any statement on a tenant table (TenantGuard), on both engines.
 * - `withOrg(orgId, fn)` runs `fn` in a transaction scoped to one organisation; on PostgreSQL the scope
 *   is also set for row-level security (`bulwark.org_id`, transaction-local), and the connection works
 *   as the app role, which has no BYPASSRLS.
 */
export class Database {
  readonly global: Db;
  private readonly readOnly: Db;
  private readonly guard: TenantGuard;

  private constructor(
    readonly engine: Engine,
    private readonly base: Db,
    private readonly migrationCtx: MigrationContext,
    private readonly migrationDb: () => Db,
    private readonly onClose: () => Promise<void>,
  ) {
    this.guard = new TenantGuard();
    this.global = base.withPlugin(this.guard);
    this.readOnly = base.withPlugin(new SelectOnly());
  }

  /** Opens (but does not yet query) the database the configuration names. */
  static open(config: Config, log: Logger): Database {
    if (!config.database.url) {
      mkdirSync(config.dataDir, { recursive: true });
      return Database.sqlite(join(config.dataDir, "bulwark.db"));
    }
    return Database.postgres(config, log);
  }

  /** An SQLite database at `file` (`:memory:` for tests): WAL for concurrent readers, foreign keys on. */
  static sqlite(file: string): Database {
    const sqlite = new SQLite(file);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
    sqlite.pragma("synchronous = NORMAL");
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cachingDatabase(sqlite) }) });
    const ctx: MigrationContext = { engine: "sqlite", schema: "main", appRole: "" };
    return new Database(
      "sqlite",
      db,
      ctx,
      () => db,
      async () => db.destroy(),
    );
  }

  private static postgres(config: Config, log: Logger): Database {
    const { url, schema, appRole, poolMax } = config.database;
    const common = { connectionString: url, connectionTimeoutMillis: 2000, idleTimeoutMillis: 30_000 };
    // Every connection works as the app role inside Bulwark's schema, set as start-up options rather than
    // a SET ROLE after connecting: if the role is missing the connection fails, instead of silently
    // running as the (possibly superuser) login role.
    const pool = new pg.Pool({
      ...common,
      max: poolMax,
      options: `-c role=${appRole} -c search_path=${schema}`,
    });
    // A connection the server drops (restart, failover) must not crash the process (OPS-1). pg-pool
    // listens for errors only on idle clients; a client that is checked out when the server goes away
    // emits 'error' with no listener, an uncaught exception. So every client gets a listener for life; the
    // query in flight still fails through its own promise, and the pool replaces the dead client.
    const lost = (err: Error): void =>
      log.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        "database connection lost",
      );
    pool.on("error", lost);
    pool.on("connect", (client) => client.on("error", lost));
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    const ctx: MigrationContext = { engine: "postgres", schema, appRole };
    const migrationDb = (): Db => {
      const owner = new pg.Pool({ ...common, max: 1, options: `-c search_path=${schema}` });
      owner.on("error", () => {});
      return new Kysely<Tables>({ dialect: new PostgresDialect({ pool: owner }) });
    };
    return new Database("postgres", db, ctx, migrationDb, async () => db.destroy());
  }

  /**
   * Applies pending migrations (idempotent) with the connecting user's rights. `extra` adds an embedding
   * app's own migrations (library mode), named so they sort after Bulwark's. Call `refreshTenantTables`
   * afterwards: it verifies the result.
   */
  async migrate(
    options: { extra?: (ctx: MigrationContext) => Record<string, Migration> } = {},
  ): Promise<string[]> {
    const owner = this.migrationDb();
    try {
      if (this.engine === "postgres") {
        await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(this.migrationCtx.schema)}`.execute(owner);
      }
      const migrator = new Migrator({
        db: owner,
        provider: migrationProvider(this.migrationCtx, options.extra),
        // Bulwark's migrations and an embedding app's interleave over releases: apply whatever is pending.
        allowUnorderedMigrations: true,
        ...(this.engine === "postgres" ? { migrationTableSchema: this.migrationCtx.schema } : {}),
      });
      const { error, results } = await migrator.migrateToLatest();
      if (error) throw error;
      return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
    } finally {
      if (owner !== this.base) await owner.destroy();
    }
  }

  /** Re-reads which tables are tenant tables and verifies their protection (see `migrate`). */
  async refreshTenantTables(): Promise<readonly string[]> {
    const tables = await this.base.introspection.getTables();
    const tenant = tables
      .filter(
        (t) =>
          (this.engine === "sqlite" || t.schema === this.migrationCtx.schema) &&
          t.columns.some((c) => c.name === "org_id") &&
          !TENANT_EXEMPT.has(t.name),
      )
      .map((t) => t.name);
    if (this.engine === "postgres") await this.verifyRls(tenant);
    this.guard.setTenantTables(tenant);
    return tenant;
  }

  private async verifyRls(tenant: string[]): Promise<void> {
    const role = await sql<{
      rolsuper: boolean;
      rolbypassrls: boolean;
      name: string;
    }>`SELECT rolname AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`.execute(
      this.base,
    );
    const r = role.rows[0];
    if (!r || r.rolsuper || r.rolbypassrls) {
      throw new Error(
        `The database role "${r?.name}" bypasses row-level security; Bulwark refuses to serve tenants as it (DATABASE_APP_ROLE).`,
      );
    }
    if (tenant.length === 0) return;
    const unprotected = await sql<{
      relname: string;
    }>`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${this.migrationCtx.schema} AND c.relname = ANY(${tenant}) AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`.execute(
      this.base,
    );
    if (unprotected.rows.length > 0) {
      throw new Error(
        `Tenant tables without forced row-level security: ${unprotected.rows.map((x) => x.relname).join(", ")}`,
      );
    }
  }

  /**
   * Runs `fn` in one transaction scoped to `orgId`. The only door to tenant tables. Atomic: `fn`'s writes
   * commit together or not at all. On PostgreSQL, RLS limits every statement in it to `orgId`'s rows.
   */
  async withOrg<T>(orgId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    if (!ORG_ID.test(orgId)) throw new Error("withOrg: invalid organisation id");
    return this.base.transaction().execute(async (tx) => {
      if (this.engine === "postgres")
        await sql`SELECT set_config('bulwark.org_id', ${orgId}, true)`.execute(tx);
      return fn(tx);
    });
  }

  /**
   * Read-only organisation scope for GET handlers. On PostgreSQL it is `withOrg` (RLS needs the
   * transaction-local setting). On SQLite it skips BEGIN/COMMIT, which cost more than a small read: each
   * statement sees committed data, and a plugin refuses anything but SELECT, so a handler cannot write
   * outside a transaction by mistake.
   */
  async readOrg<T>(orgId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.engine === "postgres") return this.withOrg(orgId, (tx) => fn(tx.withPlugin(new SelectOnly())));
    if (!ORG_ID.test(orgId)) throw new Error("withOrg: invalid organisation id");
    return fn(this.readOnly);
  }

  /** Round-trip latency in milliseconds; throws if the database does not answer within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<number> {
    const start = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([sql`SELECT 1`.execute(this.base), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return performance.now() - start;
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
