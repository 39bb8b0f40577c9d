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
import { cachingDatabase, retain } from "./sqlite-cache.js";
import type { Tables } from "./tables.js";
import { TenantGuard } from "./tenant-guard.js";
import { TenantScope } from "./tenant-scope.js";

export type Engine = "sqlite" | "postgres";
export type Db = Kysely<Tables>;

/**
 * Tables that carry `org_id` but are not tenant data. `memberships` says which organisations a principal
 * may enter, and `api_keys` which organisation a key acts in: both are read before any tenant context
 * exists (to resolve one), and their writes are guarded by their services, every query naming the
 * organisation. Every other table with `org_id` is tenant data, scoped twice.
 */
export const TENANT_EXEMPT: ReadonlySet<string> = new Set([
  "memberships",
  "api_keys",
  // Refresh tokens are looked up by their hash before their organisation is known (AUTH-9).
  "token_families",
  // OpenID Connect clients are resolved by client_id before their organisation is known (AUTH-10).
  "oidc_clients",
  // The webhook outbox and delivery queue: the dispatcher claims work across organisations.
  "webhook_messages",
  "webhook_deliveries",
]);

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

/** The error to show when the app role does not exist (a fresh database that was never migrated). */
export function missingRole(err: unknown, role: string): Error | undefined {
  const message = (err as Error)?.message ?? "";
  if (!/role ".*" does not exist/.test(message)) return undefined;
  return new MissingRoleError(
    `The database role "${role}" does not exist. It is created by the first migration: run \`bulwark migrate\` (or start without --no-migrate) as the owner of the schema, or set DATABASE_APP_ROLE.`,
  );
}

/** A configuration problem, not an outage: waiting longer will not fix it. */
export class MissingRoleError extends Error {
  override name = "MissingRoleError";
}

/** Tenant id passed to `withOrg`; prefixed ids (`org_…`) in practice, checked only for shape here. */
const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Bulwark's storage: one typed Kysely handle per engine, and the only way to reach tenant tables.
 *
 * - `global` refuses any statement on a tenant table (TenantGuard), on both engines.
 * - `withOrg(orgId, fn)` runs `fn` in a transaction scoped to one organisation, walled twice: on
 *   PostgreSQL by row-level security (`bulwark.org_id`, transaction-local, as the app role, which has no
 *   BYPASSRLS), on SQLite by TenantScope, which restricts every statement on a tenant table to `orgId`.
 */
export class Database {
  readonly global: Db;
  private readonly readOnly: Db;
  private readonly guard: TenantGuard;
  private readonly readScopes = new Map<string, Db>();
  private readonly rawStatements = new Map<string, SQLite.Statement>();
  private sqliteHandle: SQLite.Database | undefined;

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
    // exec, not pragma(): pragma() makes Statement objects the garbage collector would finalise (see
    // sqlite-cache.ts for why none may be).
    sqlite.exec(
      "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
    );
    // SQLite's own lower() folds ASCII only; PostgreSQL's folds every script. Searches compare lower(x) with
    // a pattern lower-cased in JavaScript, so both engines must fold alike ("Ärztekammer" found by "ärzte").
    sqlite.function("lower", { deterministic: true }, (v: unknown) =>
      typeof v === "string" ? v.toLowerCase() : v,
    );
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cachingDatabase(sqlite) }) });
    const ctx: MigrationContext = { engine: "sqlite", schema: "main", appRole: "" };
    const database = new Database(
      "sqlite",
      db,
      ctx,
      () => db,
      async () => db.destroy(),
    );
    database.sqliteHandle = sqlite;
    return database;
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
    options: {
      extra?: (ctx: MigrationContext) => Record<string, Migration>;
      /**
       * Accept migrations the database ran that this process does not know (an embedding app's, when a
       * command such as `admin create` runs without its extensions) instead of refusing them as missing.
       */
      tolerateUnknown?: boolean;
    } = {},
  ): Promise<string[]> {
    const owner = this.migrationDb();
    try {
      if (this.engine === "postgres") {
        await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(this.migrationCtx.schema)}`.execute(owner);
      }
      const ran = options.tolerateUnknown ? await this.executedMigrations(owner) : [];
      const migrator = new Migrator({
        db: owner,
        provider: migrationProvider(this.migrationCtx, options.extra, ran),
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

  /** Names of the migrations the database has run (none before the first). */
  private async executedMigrations(owner: Db): Promise<string[]> {
    const tables = await owner.introspection.getTables({ withInternalKyselyTables: true });
    const schema = this.engine === "postgres" ? this.migrationCtx.schema : undefined;
    if (!tables.some((t) => t.name === "kysely_migration" && (!schema || t.schema === schema))) return [];
    const rows = await sql<{ name: string }>`SELECT name FROM ${sql.table("kysely_migration")}`.execute(
      owner,
    );
    return rows.rows.map((r) => r.name);
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
      if (this.engine === "postgres") {
        await sql`SELECT set_config('bulwark.org_id', ${orgId}, true)`.execute(tx);
        return fn(tx);
      }
      return fn(tx.withPlugin(this.scope(orgId)));
    });
  }

  /**
   * SQLite's second wall (AUTHZ-2): the plugin that restricts every statement of `orgId`'s scope to its
   * rows. PostgreSQL needs none: row-level security is the wall there.
   */
  private scope(orgId: string): TenantScope {
    return new TenantScope(orgId, () => this.guard.tenantTables);
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
    let scoped = this.readScopes.get(orgId);
    if (!scoped) {
      // A scoped handle per organisation, kept: building one per request costs more than the read.
      if (this.readScopes.size >= 10_000) this.readScopes.clear();
      scoped = this.readOnly.withPlugin(this.scope(orgId));
      this.readScopes.set(orgId, scoped);
    }
    return fn(scoped);
  }

  /**
   * SQLite only: a consistent copy of the live database at `dest` (a new file), written by
   * `VACUUM INTO` in one read transaction: writers (this process's, other processes') go on meanwhile
   * in WAL mode, and the copy is compacted. Not the online backup API of better-sqlite3: its Backup
   * object's destructor aborts the process when it is collected after a worker thread's environment
   * ended (Node 24), and under steady writes from another process its steps restart without end.
   */
  async sqliteBackup(dest: string): Promise<void> {
    if (!this.sqliteHandle) throw new Error("sqliteBackup: not an SQLite database");
    this.sqliteHandle.exec(`VACUUM INTO '${dest.replace(/'/g, "''")}'`);
  }

  /** The SQLite database's file (undefined in memory and on PostgreSQL): for readers on other threads. */
  get sqliteFile(): string | undefined {
    return this.sqliteHandle && !this.sqliteHandle.memory ? this.sqliteHandle.name : undefined;
  }

  /**
   * SQLite only (undefined on PostgreSQL): the rows of a SELECT as arrays, with no object per row, for
   * reads of whole logs (a full audit verification reads every row, and building objects costs more than
   * the read). SELECT only, and never naming a tenant table: those are reached through `withOrg` alone.
   */
  selectRows(text: string, params: readonly unknown[]): unknown[][] | undefined {
    if (!this.sqliteHandle) return undefined;
    if (!/^\s*SELECT\b/i.test(text) || /;/.test(text)) throw new Error("selectRows: one SELECT only");
    for (const table of this.guard.tenantTables)
      if (new RegExp(`\\b${table}\\b`, "i").test(text))
        throw new Error(`selectRows: ${table} is a tenant table`);
    let stmt = this.rawStatements.get(text);
    if (!stmt) {
      stmt = retain(this.sqliteHandle.prepare(text)).raw(true);
      this.rawStatements.set(text, stmt);
    }
    return stmt.all(...params) as unknown[][];
  }

  /**
   * Runs `fn` with the schema owner's rights (the migrating login role on PostgreSQL, not the app role):
   * for the few jobs the app role is denied on purpose, such as audit retention (AUDIT-6). SQLite has one
   * role; the handle is the unguarded base one.
   */
  async asOwner<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.engine !== "postgres") return fn(this.base);
    const owner = this.migrationDb();
    try {
      return await fn(owner);
    } finally {
      await owner.destroy();
    }
  }

  /**
   * Round-trip latency in milliseconds; throws if the database does not answer within `timeoutMs`.
   * `as: "owner"` pings with the migrating user's own connection rather than as the app role: start-up
   * waits that way, because on a fresh database the app role exists only once the first migration ran.
   */
  async ping(timeoutMs = 2000, options: { as?: "app" | "owner" } = {}): Promise<number> {
    const start = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const owner = options.as === "owner" && this.engine === "postgres" ? this.migrationDb() : undefined;
    try {
      await Promise.race([sql`SELECT 1`.execute(owner ?? this.base), timeout]);
    } catch (err) {
      throw missingRole(err, this.migrationCtx.appRole) ?? err;
    } finally {
      clearTimeout(timer);
      await owner?.destroy();
    }
    return performance.now() - start;
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
