import { sql } from "kysely";
import type { Db } from "../db/database.js";
import type { AuditCheckpointRow, AuditEventRow, AuditKeyRow } from "./tables.js";

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

/** The audit log's queries. Every one names its log; nothing here updates or deletes a row of the log. */
export class AuditStore {
  constructor(private readonly db: Db) {}

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
    const head = await tx
      .insertInto("audit_heads")
      .values({ log_id: log, size: count, updated_at: now })
      .onConflict((oc) =>
        oc.column("log_id").doUpdateSet({ size: sql`audit_heads.size + ${count}`, updated_at: now }),
      )
      .returning("size")
      .executeTakeFirstOrThrow();
    const first = Number(head.size) - count;
    const rows: AuditEventRow[] = [];
    for (let i = 0; i < count; i++) rows.push({ log_id: log, seq: first + i, ...build(first + i, i) });
    await tx.insertInto("audit_events").values(rows).execute();
    return rows.map((r) => ({ id: r.id, seq: r.seq }));
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
      .select((eb) => ["h.log_id", "h.size", latest("size").as("cp_size"), latest("created_at").as("cp_at")])
      .execute();
    return rows
      .map((r) => ({
        log_id: r.log_id,
        size: Number(r.size),
        cp_size: r.cp_size === null ? null : Number(r.cp_size),
        cp_at: r.cp_at === null ? null : Number(r.cp_at),
      }))
      .filter((r) => r.cp_size === null || r.cp_size < r.size);
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
      .then((r) => (r ? { ...r, seq: Number(r.seq), created_at: Number(r.created_at) } : undefined));
  }

  /**
   * Entries matching `f`, newest first, before the entry `cursor` (its log and seq) when given. Across
   * logs (the platform admin's view) the order is by time, then log and seq.
   */
  async query(
    f: AuditFilter,
    limit: number,
    cursor?: { log: string; seq: number; at: number },
  ): Promise<AuditEventRow[]> {
    let q = this.db.selectFrom("audit_events").selectAll();
    if (f.log !== undefined) q = q.where("log_id", "=", f.log);
    if (f.actor !== undefined) q = q.where("actor_id", "=", f.actor);
    if (f.action !== undefined) q = q.where("action", "=", f.action);
    if (f.entityType !== undefined) q = q.where("entity_type", "=", f.entityType);
    if (f.entityId !== undefined) q = q.where("entity_id", "=", f.entityId);
    if (f.from !== undefined) q = q.where("created_at", ">=", f.from);
    if (f.to !== undefined) q = q.where("created_at", "<", f.to);
    if (f.log !== undefined) {
      if (cursor) q = q.where("seq", "<", cursor.seq);
      q = q.orderBy("seq", "desc");
    } else {
      if (cursor)
        q = q.where((eb) =>
          eb.or([
            eb("created_at", "<", cursor.at),
            eb.and([
              eb("created_at", "=", cursor.at),
              eb.or([
                eb("log_id", "<", cursor.log),
                eb.and([eb("log_id", "=", cursor.log), eb("seq", "<", cursor.seq)]),
              ]),
            ]),
          ]),
        );
      q = q.orderBy("created_at", "desc").orderBy("log_id", "desc").orderBy("seq", "desc");
    }
    const rows = await q.limit(limit).execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq), created_at: Number(r.created_at) }));
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
    return rows.map((r) => ({ ...r, seq: Number(r.seq), created_at: Number(r.created_at) }));
  }

  /** Every log id with entries. */
  async logs(): Promise<{ log_id: string; size: number }[]> {
    const rows = await this.db
      .selectFrom("audit_heads")
      .select(["log_id", "size"])
      .orderBy("log_id")
      .execute();
    return rows.map((r) => ({ log_id: r.log_id, size: Number(r.size) }));
  }
}

function numbered(r: AuditCheckpointRow | undefined): AuditCheckpointRow | undefined {
  return r ? { ...r, size: Number(r.size), created_at: Number(r.created_at) } : undefined;
}
