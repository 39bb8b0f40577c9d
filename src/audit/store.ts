import { CompiledQuery, sql } from "kysely";
import type { Db, Engine } from "../db/database.js";
import { idFloor } from "../util/ids.js";
import type { AuditCheckpointRow, AuditEventRow, AuditKeyRow, AuditPendingRow } from "./tables.js";
import type { VerifyRow } from "./verify.js";

/** One row to append, without its position (the store assigns it under the head lock). */
export type NewRow = Omit<AuditEventRow, "seq" | "log_id" | "leaf" | "entry">;

/** Filters of the query API (AUDIT-5). */
export interface AuditFilter {
  readonly log?: string | undefined;
  readonly actor?: string | undefined;
  readonly action?: string | undefined;
  readonly entityType?: string | undefined;
  readonly entityId?: string | undefined;
  /** Epoch ms, inclusive. */
  readonly from?: number | undefined;
  /** Epoch ms, exclusive. */
  readonly to?: number | undefined;
}

/** Rows per INSERT: far below both engines' limits on bound parameters (12 a row). */
const CHUNK = 500;
const COLUMNS =
  "log_id, seq, id, created_at, type, action, actor_type, actor_id, entity_type, entity_id, leaf, entry";

/** A domain event waiting to join its log: the row it will be, its entry holding seq 0 (tables.ts). */
export type StagedRow = Omit<AuditPendingRow, "pending_id">;

const PENDING_COLUMNS =
  "log_id, id, created_at, type, action, actor_type, actor_id, entity_type, entity_id, entry";

/** The store's fixed statements in each engine's placeholders (the insert's, per row count, cached). */
function statements(engine: Engine) {
  const p = engine === "postgres" ? (n: number) => `$${n}` : () => "?";
  const inserts = new Map<number, string>();
  const pg = engine === "postgres";
  return {
    stage: `INSERT INTO audit_pending (${PENDING_COLUMNS}) VALUES (${Array.from({ length: 10 }, (_, c) => p(c + 1)).join(", ")})`,
    newest: "SELECT max(pending_id) AS newest FROM audit_pending",
    takeOne: [false, true].map(
      (wait) =>
        `SELECT pending_id, ${PENDING_COLUMNS} FROM audit_pending WHERE pending_id = ${p(1)}${pg ? (wait ? " FOR UPDATE" : " FOR UPDATE SKIP LOCKED") : ""}`,
    ) as [skipping: string, waiting: string],
    /**
     * Staged rows up to $1, oldest first, not among those set aside ($3), locked for the moving transaction.
     * Several nodes move at once on PostgreSQL: the timer's mover skips rows another holds; a reader's
     * waits for them (so that what it reads next includes them).
     */
    take: [false, true].map(
      (wait) =>
        `SELECT pending_id, ${PENDING_COLUMNS} FROM audit_pending WHERE pending_id <= ${p(1)} AND ${
          pg ? "NOT (pending_id = ANY($3::bigint[]))" : "pending_id NOT IN (SELECT value FROM json_each(?))"
        } ORDER BY pending_id LIMIT ${p(2)}${pg ? (wait ? " FOR UPDATE" : " FOR UPDATE SKIP LOCKED") : ""}`,
    ) as [skipping: string, waiting: string],
    drop: pg
      ? "DELETE FROM audit_pending WHERE pending_id = ANY($1::bigint[])"
      : "DELETE FROM audit_pending WHERE pending_id IN (SELECT value FROM json_each(?))",
    head: `INSERT INTO audit_heads (log_id, size, updated_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}) ON CONFLICT (log_id) DO UPDATE SET size = audit_heads.size + excluded.size, updated_at = excluded.updated_at RETURNING size`,
    insert(rows: number): string {
      let text = inserts.get(rows);
      if (!text) {
        const tuples: string[] = [];
        for (let r = 0; r < rows; r++)
          tuples.push(`(${Array.from({ length: 12 }, (_, c) => p(r * 12 + c + 1)).join(", ")})`);
        text = `INSERT INTO audit_events (${COLUMNS}) VALUES ${tuples.join(", ")}`;
        if (inserts.size < 64) inserts.set(rows, text);
      }
      return text;
    },
  };
}

/**
 * The audit log's queries. Every one names its log; nothing here updates or deletes a row of the log (only
 * staged events, once moved into it, are deleted from audit_pending).
 */
export class AuditStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(
    private readonly db: Db,
    private readonly engine: Engine,
    /** SQLite's rows as arrays (`Database.selectRows`), for reads of many rows; undefined: the builder. */
    private readonly rawRows?: (text: string, params: readonly unknown[]) => unknown[][] | undefined,
  ) {
    this.sql = statements(engine);
  }

  /**
   * Appends `count` rows to `log` inside `tx` (the caller's transaction): takes `count` positions from the
   * log's head (an upsert, which holds the head row's lock until the transaction ends, so positions are
   * handed out in commit order, without gaps, one log at a time), then `build` makes each row for its seq.
   */
  async append(
    tx: Db,
    log: string,
    count: number,
    now: number,
    build: (seq: number, i: number) => Pick<AuditEventRow, "leaf" | "entry"> & NewRow,
  ): Promise<{ id: string; seq: number }[]> {
    // Written as SQL compiled once (not through the query builder): this runs in every audited change.
    const head = await tx.executeQuery<{ size: number | string }>(
      CompiledQuery.raw(this.sql.head, [log, count, now]),
    );
    const first = Number(head.rows[0]!.size) - count;
    const written: { id: string; seq: number }[] = [];
    for (let at = 0; at < count; at += CHUNK) {
      const n = Math.min(CHUNK, count - at);
      const values: unknown[] = [];
      for (let i = at; i < at + n; i++) {
        const r = build(first + i, i);
        values.push(log, first + i, r.id, r.created_at, r.type, r.action, r.actor_type, r.actor_id);
        values.push(r.entity_type, r.entity_id, r.leaf, r.entry);
        written.push({ id: r.id, seq: first + i });
      }
      await tx.executeQuery(CompiledQuery.raw(this.sql.insert(n), values));
    }
    return written;
  }

  /** Stages domain events in `tx`, the transaction of their change (service.ts `record`). */
  async stage(tx: Db, rows: readonly StagedRow[]): Promise<void> {
    for (const r of rows)
      await tx.executeQuery(
        CompiledQuery.raw(this.sql.stage, [
          r.log_id,
          r.id,
          r.created_at,
          r.type,
          r.action,
          r.actor_type,
          r.actor_id,
          r.entity_type,
          r.entity_id,
          r.entry,
        ]),
      );
  }

  /**
   * Up to `limit` staged events with ids up to `upTo`, oldest first, but those in `aside`; locked for
   * `tx`, which moves and then drops them. `wait`: wait for rows another node is moving, not skip them.
   */
  async takeStaged(
    tx: Db,
    upTo: number,
    limit: number,
    aside: readonly number[],
    wait: boolean,
  ): Promise<AuditPendingRow[]> {
    const pg = this.engine === "postgres";
    const r = await tx.executeQuery<AuditPendingRow>(
      CompiledQuery.raw(this.sql.take[wait ? 1 : 0], [
        upTo,
        pg ? limit : JSON.stringify(aside),
        pg ? aside : limit,
      ]),
    );
    return r.rows.map((row) => ({
      ...row,
      pending_id: Number(row.pending_id),
      created_at: Number(row.created_at),
    }));
  }

  /** The staged event `id`, locked for `tx` (none when gone, or another node holds it and `wait` is false). */
  async takeStagedOne(tx: Db, id: number, wait: boolean): Promise<AuditPendingRow[]> {
    const r = await tx.executeQuery<AuditPendingRow>(CompiledQuery.raw(this.sql.takeOne[wait ? 1 : 0], [id]));
    return r.rows.map((row) => ({
      ...row,
      pending_id: Number(row.pending_id),
      created_at: Number(row.created_at),
    }));
  }

  /** Unstages moved events (a trigger refuses to unstage one its log does not hold). */
  async dropStaged(tx: Db, ids: readonly number[]): Promise<void> {
    await tx.executeQuery(
      CompiledQuery.raw(this.sql.drop, [this.engine === "postgres" ? ids : JSON.stringify(ids)]),
    );
  }

  /** PostgreSQL: `tx` waits at most `ms` for a lock (then fails with 55P03). Nothing on SQLite. */
  async waitAtMost(tx: Db, ms: number): Promise<void> {
    if (this.engine === "postgres")
      await tx.executeQuery(CompiledQuery.raw(`SET LOCAL lock_timeout = ${Math.floor(ms)}`, []));
  }

  /** Throws when the database does not answer. */
  async ping(): Promise<void> {
    await this.db.executeQuery(CompiledQuery.raw("SELECT 1", []));
  }

  /** The newest staged event's id (undefined: none waits). */
  async newestStaged(): Promise<number | undefined> {
    const r = await this.db.executeQuery<{ newest: number | string | null }>(
      CompiledQuery.raw(this.sql.newest, []),
    );
    const newest = r.rows[0]?.newest;
    return newest === null || newest === undefined ? undefined : Number(newest);
  }

  /**
   * A row of `log` at a position no entry can have (a negative one, or on SQLite one that is no integer
   * at all: the column would take text): what a verifier reading positions from 0 up would never meet.
   * Rows past the end are met already (and may be appends made while it read).
   */
  async strayRow(log: string): Promise<{ seq: unknown; id: string } | undefined> {
    const where =
      this.engine === "postgres"
        ? "log_id = $1 AND seq < 0"
        : "log_id = ? AND NOT (typeof(seq) = 'integer' AND seq >= 0)";
    const r = await this.db.executeQuery<{ seq: unknown; id: string }>(
      CompiledQuery.raw(`SELECT seq, id FROM audit_events WHERE ${where} LIMIT 1`, [log]),
    );
    return r.rows[0];
  }

  /** Logs with entries no checkpoint covers yet, with their latest checkpoint. */
  async pending(): Promise<{ log_id: string; size: number; cp_size: number | null; cp_at: number | null }[]> {
    // Correlated lookups on the checkpoints' primary key: O(logs), whatever the number of checkpoints.
    const latest = (column: "size" | "created_at") =>
      this.db
        .selectFrom("audit_checkpoints as c")
        .select(`c.${column}`)
        .where("c.log_id", "=", sql.ref<string>("h.log_id"))
        .orderBy("c.size", "desc")
        .limit(1);
    const rows = await this.db
      .selectFrom("audit_heads as h")
      .select(["h.log_id", "h.size", latest("size").as("cp_size"), latest("created_at").as("cp_at")])
      .execute();
    return (
      rows
        .map((r) => ({
          log_id: r.log_id,
          size: Number(r.size),
          cp_size: r.cp_size === null ? null : Number(r.cp_size),
          cp_at: r.cp_at === null ? null : Number(r.cp_at),
        }))
        // A checkpoint larger than the log is none of ours (the checkpointer then skips it).
        .filter((r) => r.cp_size === null || r.cp_size !== r.size)
    );
  }

  async size(log: string): Promise<number> {
    const r = await this.db
      .selectFrom("audit_heads")
      .select("size")
      .where("log_id", "=", log)
      .executeTakeFirst();
    return r ? Number(r.size) : 0;
  }

  /** Leaf hashes of seq in [from, to), in order. */
  async leaves(log: string, from: number, to: number): Promise<string[]> {
    if (to <= from) return [];
    // Every checkpoint reads the leaves added since the last: as arrays, where the engine allows.
    const raw = this.rawRows?.(
      "SELECT leaf FROM audit_events WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
      [log, from, to],
    );
    if (raw) return raw.map((r) => r[0] as string);
    const rows = await this.db
      .selectFrom("audit_events")
      .select("leaf")
      .where("log_id", "=", log)
      .where("seq", ">=", from)
      .where("seq", "<", to)
      .orderBy("seq")
      .execute();
    return rows.map((r) => r.leaf);
  }

  async latestCheckpoint(log: string): Promise<AuditCheckpointRow | undefined> {
    return this.db
      .selectFrom("audit_checkpoints")
      .selectAll()
      .where("log_id", "=", log)
      .orderBy("size", "desc")
      .limit(1)
      .executeTakeFirst()
      .then(numbered);
  }

  /** Every log's id with its head's size, in id order. */
  async heads(): Promise<{ log_id: string; size: number }[]> {
    const rows = await this.db
      .selectFrom("audit_heads")
      .select(["log_id", "size"])
      .orderBy("log_id")
      .execute();
    return rows.map((r) => ({ log_id: r.log_id, size: Number(r.size) }));
  }

  async checkpoint(log: string, size: number): Promise<AuditCheckpointRow | undefined> {
    return this.db
      .selectFrom("audit_checkpoints")
      .selectAll()
      .where("log_id", "=", log)
      .where("size", "=", size)
      .executeTakeFirst()
      .then(numbered);
  }

  /** Checkpoints newest first, below `before` (a size) when given. */
  async checkpoints(
    log: string,
    limit: number,
    before?: number,
    order: "newest" | "oldest" = "newest",
  ): Promise<AuditCheckpointRow[]> {
    let q = this.db.selectFrom("audit_checkpoints").selectAll().where("log_id", "=", log);
    if (before !== undefined) q = q.where("size", "<", before);
    const rows = await q
      .orderBy("size", order === "newest" ? "desc" : "asc")
      .limit(limit)
      .execute();
    return rows.map((r) => numbered(r)!);
  }

  /** Every checkpoint of `log`, oldest first (for verification and bundles). */
  async allCheckpoints(log: string): Promise<AuditCheckpointRow[]> {
    const rows = await this.db
      .selectFrom("audit_checkpoints")
      .selectAll()
      .where("log_id", "=", log)
      .orderBy("size")
      .execute();
    return rows.map((r) => numbered(r)!);
  }

  /** Two nodes making the same checkpoint write the same row: the second insert is a no-op. */
  async addCheckpoint(row: AuditCheckpointRow): Promise<void> {
    await this.db
      .insertInto("audit_checkpoints")
      .values(row)
      .onConflict((oc) => oc.columns(["log_id", "size"]).doNothing())
      .execute();
  }

  async keys(): Promise<AuditKeyRow[]> {
    return this.db.selectFrom("audit_keys").selectAll().orderBy("created_at").execute();
  }

  async addKey(row: AuditKeyRow): Promise<void> {
    await this.db
      .insertInto("audit_keys")
      .values(row)
      .onConflict((oc) => oc.column("key_id").doNothing())
      .execute();
  }

  async byId(log: string, id: string): Promise<AuditEventRow | undefined> {
    return this.db
      .selectFrom("audit_events")
      .selectAll()
      .where("log_id", "=", log)
      .where("id", "=", id)
      .executeTakeFirst()
      .then((r) => (r ? event(r) : undefined));
  }

  /**
   * Entries matching `f`, newest first, after the entry `cursor` when given: in one log by seq, across
   * logs (the platform admin's view) by id, which is time-ordered.
   */
  async query(
    f: AuditFilter,
    limit: number,
    cursor?: { log: string; seq: number; id: string },
  ): Promise<AuditEventRow[]> {
    let q = this.db.selectFrom("audit_events").selectAll();
    if (f.log !== undefined) q = q.where("log_id", "=", f.log);
    if (f.actor !== undefined) q = q.where("actor_id", "=", f.actor);
    if (f.action !== undefined) q = q.where("action", "=", f.action);
    if (f.entityType !== undefined) q = q.where("entity_type", "=", f.entityType);
    if (f.entityId !== undefined) q = q.where("entity_id", "=", f.entityId);
    // Ids are time-ordered: a time range is an id range, on the id's own index.
    if (f.from !== undefined) q = q.where("id", ">=", idFloor("aud", f.from));
    if (f.to !== undefined) q = q.where("id", "<", idFloor("aud", f.to));
    if (f.log !== undefined) {
      if (cursor) q = q.where("seq", "<", cursor.seq);
      q = q.orderBy("seq", "desc");
    } else {
      if (cursor) q = q.where("id", "<", cursor.id);
      q = q.orderBy("id", "desc");
    }
    const rows = await q.limit(limit).execute();
    return rows.map(event);
  }

  /** Rows of `log` from seq `from` on, in order, matching `f`: the export and verify walk, batch by batch. */
  async range(log: string, from: number, limit: number, f: AuditFilter = {}): Promise<AuditEventRow[]> {
    let q = this.db.selectFrom("audit_events").selectAll().where("log_id", "=", log).where("seq", ">=", from);
    if (f.actor !== undefined) q = q.where("actor_id", "=", f.actor);
    if (f.action !== undefined) q = q.where("action", "=", f.action);
    if (f.entityType !== undefined) q = q.where("entity_type", "=", f.entityType);
    if (f.entityId !== undefined) q = q.where("entity_id", "=", f.entityId);
    if (f.from !== undefined) q = q.where("created_at", ">=", f.from);
    if (f.to !== undefined) q = q.where("created_at", "<", f.to);
    const rows = await q.orderBy("seq").limit(limit).execute();
    return rows.map(event);
  }

  /**
   * The verifier's walk: the columns it checks, from seq `from` on, past the head too (a row inserted
   * beyond it is seen). Rows come as the driver gives them: this reads whole logs, one allocation a row.
   */
  /** The entries of `log` with `action` that still have their content (the action index), oldest first. */
  async byAction(log: string, action: string): Promise<{ seq: number; entry: string | null }[]> {
    const rows = await this.db
      .selectFrom("audit_events")
      .select(["seq", "entry"])
      .where("log_id", "=", log)
      .where("action", "=", action)
      .where("entry", "is not", null)
      .orderBy("seq")
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), entry: r.entry }));
  }

  async verifyRange(log: string, from: number, limit: number): Promise<VerifyRow[]> {
    return this.db
      .selectFrom("audit_events")
      .select([
        "seq",
        "id",
        "created_at",
        "leaf",
        "entry",
        "type",
        "action",
        "actor_type",
        "actor_id",
        "entity_type",
        "entity_id",
      ])
      .where("log_id", "=", log)
      .where("seq", ">=", from)
      .orderBy("seq")
      .limit(limit)
      .execute();
  }

  /**
   * Every log with a head, an entry or a checkpoint (a log whose head row was deleted is still walked),
   * with its head's size (0 without one).
   */
  async logs(): Promise<{ log_id: string; size: number }[]> {
    const ids = await this.db
      .selectFrom("audit_heads")
      .select("log_id")
      .union(this.db.selectFrom("audit_events").select("log_id").distinct())
      .union(this.db.selectFrom("audit_checkpoints").select("log_id").distinct())
      .execute();
    const heads = new Map(
      (await this.db.selectFrom("audit_heads").select(["log_id", "size"]).execute()).map((h) => [
        h.log_id,
        Number(h.size),
      ]),
    );
    return ids
      .map((r) => ({ log_id: r.log_id, size: heads.get(r.log_id) ?? 0 }))
      .sort((a, b) => (a.log_id < b.log_id ? -1 : 1));
  }
}

function numbered(r: AuditCheckpointRow | undefined): AuditCheckpointRow | undefined {
  return r ? { ...r, size: Number(r.size), created_at: Number(r.created_at) } : undefined;
}

/** An event row with its bigint columns as numbers (PostgreSQL's driver may give strings). */
function event(r: AuditEventRow): AuditEventRow {
  return { ...r, seq: Number(r.seq), created_at: Number(r.created_at) };
}
