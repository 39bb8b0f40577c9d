import { type Kysely, type Migration, sql } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/**
 * The audit log (AUDIT-3: append-only). On PostgreSQL the app role may only SELECT and INSERT the log's
 * tables, and triggers refuse UPDATE, DELETE and TRUNCATE to every role; the one exception is retention
 * (AUDIT-6), which runs as the schema owner with `bulwark.audit_purge` set and may only blank an old
 * entry's content, never its leaf, position or id. On SQLite (one process owns the file) the same
 * triggers refuse them unless the purge gate row exists inside the purge's own transaction.
 */
export function auditMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0010_audit": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("audit_events")
          .addColumn("log_id", "text", (c) => c.notNull())
          .addColumn("seq", "bigint", (c) => c.notNull())
          .addColumn("id", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("actor_type", "text", (c) => c.notNull())
          .addColumn("actor_id", "text")
          .addColumn("entity_type", "text")
          .addColumn("entity_id", "text")
          .addColumn("leaf", "text", (c) => c.notNull())
          .addColumn("entry", "text")
          .addPrimaryKeyConstraint("audit_events_pk", ["log_id", "seq"])
          // SQLite: the primary key is the table (no separate rowid tree to write on every append).
          .$call((b) => (ctx.engine === "sqlite" ? b.modifyEnd(sql`WITHOUT ROWID`) : b))
          .execute();
        // The query API's filters (AUDIT-5). Time ranges need none: ids are time-ordered, so a time range
        // is a range of the id's own index.
        for (const [name, columns] of [
          ["audit_events_actor", ["log_id", "actor_id", "seq"]],
          ["audit_events_action", ["log_id", "action", "seq"]],
          ["audit_events_entity", ["log_id", "entity_type", "entity_id", "seq"]],
        ] as const)
          await db.schema
            .createIndex(name)
            .on("audit_events")
            .columns([...columns])
            .execute();
        await db.schema
          .createTable("audit_heads")
          .addColumn("log_id", "text", (c) => c.primaryKey())
          .addColumn("size", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("audit_checkpoints")
          .addColumn("log_id", "text", (c) => c.notNull())
          .addColumn("size", "bigint", (c) => c.notNull())
          .addColumn("root", "text", (c) => c.notNull())
          .addColumn("key_id", "text", (c) => c.notNull())
          .addColumn("note", "text", (c) => c.notNull())
          .addColumn("edge", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("audit_checkpoints_pk", ["log_id", "size"])
          .execute();
        await db.schema
          .createTable("audit_keys")
          .addColumn("key_id", "text", (c) => c.primaryKey())
          .addColumn("vkey", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await grantApp(db, ctx, "audit_events", ["SELECT", "INSERT"]);
        await grantApp(db, ctx, "audit_checkpoints", ["SELECT", "INSERT"]);
        await grantApp(db, ctx, "audit_keys", ["SELECT", "INSERT"]);
        await grantApp(db, ctx, "audit_heads", ["SELECT", "INSERT", "UPDATE"]);
        if (ctx.engine === "postgres") await postgresTriggers(db, ctx.schema);
        else await sqliteTriggers(db);
      },
    },
    // Domain events committed with their change, waiting to join their log's tree (service.ts): the
    // change's transaction writes one small row here instead of locking the log's head and writing the
    // log's five B-trees; the flush moves them in batches. Not part of the log, so rows are deleted.
    "0012_audit_pending": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("audit_pending")
          .addColumn("pending_id", ctx.engine === "postgres" ? "bigint" : "integer", (c) =>
            ctx.engine === "postgres" ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey(),
          )
          .addColumn("log_id", "text", (c) => c.notNull())
          .addColumn("id", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("actor_type", "text", (c) => c.notNull())
          .addColumn("actor_id", "text")
          .addColumn("entity_type", "text")
          .addColumn("entity_id", "text")
          .addColumn("entry", "text", (c) => c.notNull())
          .execute();
        // UPDATE only because PostgreSQL asks it of SELECT … FOR UPDATE (the movers' lock): see 0013.
        await grantApp(db, ctx, "audit_pending", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
    // AUDIT-3: a committed event is no easier to change while it waits than once it is in its log.
    // Triggers refuse every update of a staged row, and every delete of one its log does not hold yet:
    // the same id, in the same log, with the same time, action, actor, entity and length of entry (the
    // entry's seq is the only difference the move makes).
    "0013_audit_pending_guard": {
      async up(db: AnyDb) {
        await stagingTriggers(db, ctx);
      },
    },
    // GDPR-2: an account's erasure keeps its entries' actor and entity under a pseudonym (PURGE_SHAPE).
    "0025_audit_erasure": {
      async up(db: AnyDb) {
        if (ctx.engine === "postgres") await appendOnlyFunction(db, ctx.schema);
        else {
          await sql`DROP TRIGGER audit_events_no_update`.execute(db);
          await eventsUpdateTrigger(db);
        }
      },
    },
  };
}

/**
 * A purge (retention, AUDIT-6) or an erasure (GDPR-2) may blank a row's content, and blank or pseudonymise
 * (`anon_…`) its personal query columns; nothing else of it may change.
 */
const PURGE_SHAPE = `NEW.entry IS NULL
  AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id OR NEW.actor_id LIKE 'anon!_%' ESCAPE '!')
  AND (NEW.entity_id IS NULL OR NEW.entity_id = OLD.entity_id OR NEW.entity_id LIKE 'anon!_%' ESCAPE '!')
  AND NEW.log_id = OLD.log_id AND NEW.seq = OLD.seq AND NEW.id = OLD.id AND NEW.leaf = OLD.leaf
  AND NEW.created_at = OLD.created_at AND NEW.action = OLD.action AND NEW.type = OLD.type
  AND NEW.actor_type = OLD.actor_type AND NEW.entity_type IS NOT DISTINCT FROM OLD.entity_type`;

async function appendOnlyFunction(db: AnyDb, schema: string): Promise<void> {
  const fn = sql.id(schema, "audit_append_only");
  await sql`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events'
         AND OLD.created_at < coalesce(nullif(current_setting('bulwark.audit_purge', true), ''), '0')::bigint
         AND ${sql.raw(PURGE_SHAPE)} THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
}

async function postgresTriggers(db: AnyDb, schema: string): Promise<void> {
  await appendOnlyFunction(db, schema);
  const fn = sql.id(schema, "audit_append_only");
  for (const table of ["audit_events", "audit_checkpoints", "audit_keys"]) {
    const t = sql.id(schema, table);
    await sql`CREATE TRIGGER ${sql.id(`${table}_append_only`)} BEFORE UPDATE OR DELETE ON ${t}
      FOR EACH ROW EXECUTE FUNCTION ${fn}()`.execute(db);
    await sql`CREATE TRIGGER ${sql.id(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${t}
      FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`.execute(db);
  }
}

const STAGED_ONLY = "a staged audit event is never changed, and leaves only into its log";
/** The log row a staged row (OLD) became: found by its id, and the same but for the entry's seq. */
const MOVED = `e.id = OLD.id AND e.log_id = OLD.log_id AND e.created_at = OLD.created_at
  AND e.type = OLD.type AND e.action = OLD.action AND e.actor_type = OLD.actor_type
  AND e.actor_id IS NOT DISTINCT FROM OLD.actor_id AND e.entity_type IS NOT DISTINCT FROM OLD.entity_type
  AND e.entity_id IS NOT DISTINCT FROM OLD.entity_id
  AND length(e.entry) = length(OLD.entry) - 1 + length(CAST(e.seq AS TEXT))`;

async function stagingTriggers(db: AnyDb, ctx: MigrationContext): Promise<void> {
  if (ctx.engine === "postgres") {
    const fn = sql.id(ctx.schema, "audit_pending_guard");
    await sql`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- By its id alone first (OFFSET 0 keeps the planner on the id's index, not a walk of the log).
        IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM (SELECT * FROM ${sql.id(ctx.schema, "audit_events")}
            WHERE id = OLD.id OFFSET 0) e WHERE ${sql.raw(MOVED)}) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION '${sql.raw(STAGED_ONLY)} (%)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`.execute(db);
    await sql`CREATE TRIGGER audit_pending_guard BEFORE UPDATE OR DELETE ON ${sql.id(ctx.schema, "audit_pending")}
      FOR EACH ROW EXECUTE FUNCTION ${fn}()`.execute(db);
    return;
  }
  await sql`CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending
    BEGIN SELECT RAISE(ABORT, ${sql.raw(`'${STAGED_ONLY}'`)}); END`.execute(db);
  await sql`CREATE TRIGGER audit_pending_no_delete BEFORE DELETE ON audit_pending
    WHEN NOT EXISTS (SELECT 1 FROM audit_events e WHERE ${sql.raw(MOVED)})
    BEGIN SELECT RAISE(ABORT, ${sql.raw(`'${STAGED_ONLY}'`)}); END`.execute(db);
}

async function sqliteTriggers(db: AnyDb): Promise<void> {
  // The gate is a row the purge inserts and deletes inside its own transaction, holding its cutoff.
  await sql`CREATE TABLE audit_purge_gate (before INTEGER NOT NULL)`.execute(db);
  await eventsUpdateTrigger(db);
  for (const table of ["audit_events", "audit_checkpoints", "audit_keys"]) {
    if (table !== "audit_events")
      await sql`CREATE TRIGGER ${sql.id(`${table}_no_update`)} BEFORE UPDATE ON ${sql.id(table)}
        BEGIN SELECT RAISE(ABORT, ${sql.lit(`the audit log is append-only (UPDATE on ${table})`)}); END`.execute(
        db,
      );
    await sql`CREATE TRIGGER ${sql.id(`${table}_no_delete`)} BEFORE DELETE ON ${sql.id(table)}
      BEGIN SELECT RAISE(ABORT, ${sql.lit(`the audit log is append-only (DELETE on ${table})`)}); END`.execute(
      db,
    );
  }
}

/** SQLite: an update of a log entry only in the purge's shape, only while the gate row admits it. */
async function eventsUpdateTrigger(db: AnyDb): Promise<void> {
  await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    WHEN NOT (EXISTS (SELECT 1 FROM audit_purge_gate WHERE OLD.created_at < before) AND ${sql.raw(PURGE_SHAPE.replace("IS NOT DISTINCT FROM", "IS"))})
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (UPDATE on audit_events)'); END`.execute(db);
}
