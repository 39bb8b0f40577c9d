import { sql } from "kysely";
import type { Db } from "../db/database.js";
import type {
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookEndpointRow,
  WebhookMessageRow,
} from "./tables.js";

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function endpoint(r: WebhookEndpointRow): WebhookEndpointRow {
  return {
    ...r,
    enabled: Number(r.enabled),
    legacy_signature: Number(r.legacy_signature),
    failures: Number(r.failures),
    previous_until: num(r.previous_until),
    breaker_until: num(r.breaker_until),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

function delivery(r: WebhookDeliveryRow): WebhookDeliveryRow {
  return {
    ...r,
    attempts: Number(r.attempts),
    next_at: Number(r.next_at),
    lease_until: num(r.lease_until),
    last_status: num(r.last_status),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

/** A delivery as it is listed: its row, and the message's type. */
export type DeliveryListing = WebhookDeliveryRow & { type: string };

/**
 * Webhook queries. Endpoint and attempt queries take the organisation's scope (`withOrg`/`readOrg`);
 * outbox and queue queries take any handle and name the organisation themselves when serving a route.
 */
export class WebhookStore {
  constructor(private readonly engine: "sqlite" | "postgres") {}

  // Endpoints (tenant scope)

  async insertEndpoint(tx: Db, row: WebhookEndpointRow): Promise<void> {
    await tx.insertInto("webhook_endpoints").values(row).execute();
  }

  async endpoints(tx: Db, orgId: string): Promise<WebhookEndpointRow[]> {
    const rows = await tx
      .selectFrom("webhook_endpoints")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("id")
      .execute();
    return rows.map(endpoint);
  }

  /**
   * One endpoint. `lock`: held until the transaction ends (PostgreSQL; SQLite's writer runs alone), so
   * concurrent deliveries to it decide its breaker and count its failures one after another.
   */
  async endpoint(tx: Db, orgId: string, id: string, lock = false): Promise<WebhookEndpointRow | undefined> {
    let q = tx.selectFrom("webhook_endpoints").selectAll().where("org_id", "=", orgId).where("id", "=", id);
    if (lock && this.engine === "postgres") q = q.forUpdate();
    const row = await q.executeTakeFirst();
    return row && endpoint(row);
  }

  async updateEndpoint(
    tx: Db,
    orgId: string,
    id: string,
    set: Partial<Omit<WebhookEndpointRow, "id" | "org_id">>,
  ): Promise<void> {
    if (Object.keys(set).length === 0) return;
    await tx
      .updateTable("webhook_endpoints")
      .set(set)
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .execute();
  }

  /** After a success: failures back to 0 and the breaker closed; writes only when they were not. */
  async recovered(tx: Db, orgId: string, id: string): Promise<void> {
    await tx
      .updateTable("webhook_endpoints")
      .set({ failures: 0, breaker: "closed", breaker_until: null })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .where((eb) => eb.or([eb("failures", "<>", 0), eb("breaker", "<>", "closed")]))
      .execute();
  }

  async deleteEndpoint(tx: Db, orgId: string, id: string): Promise<boolean> {
    const r = await tx
      .deleteFrom("webhook_endpoints")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // The outbox

  async insertMessages(tx: Db, rows: readonly WebhookMessageRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 100)
      await tx
        .insertInto("webhook_messages")
        .values(rows.slice(i, i + 100))
        .execute();
  }

  /** Organisations with messages not yet fanned out, oldest first. */
  async pendingOrgs(db: Db, limit: number): Promise<string[]> {
    const rows = await db
      .selectFrom("webhook_messages")
      .select("org_id")
      .distinct()
      .where("fanned_out", "=", 0)
      .limit(limit)
      .execute();
    return rows.map((r) => r.org_id);
  }

  /** An organisation's messages awaiting fan-out, locked for this transaction (others skip them). */
  async takePending(tx: Db, orgId: string, limit: number): Promise<WebhookMessageRow[]> {
    let q = tx
      .selectFrom("webhook_messages")
      .selectAll()
      .where("fanned_out", "=", 0)
      .where("org_id", "=", orgId)
      .orderBy("id")
      .limit(limit);
    if (this.engine === "postgres") q = q.forUpdate().skipLocked();
    return (await q.execute()).map((r) => ({ ...r, created_at: Number(r.created_at) }));
  }

  async markFannedOut(tx: Db, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500)
      await tx
        .updateTable("webhook_messages")
        .set({ fanned_out: 1 })
        .where("id", "in", ids.slice(i, i + 500))
        .execute();
  }

  async message(db: Db, orgId: string, id: string): Promise<WebhookMessageRow | undefined> {
    const row = await db
      .selectFrom("webhook_messages")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && { ...row, created_at: Number(row.created_at) };
  }

  /** The bodies of some of an organisation's messages, by id. */
  async bodies(db: Db, orgId: string, ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await db
        .selectFrom("webhook_messages")
        .select(["id", "body"])
        .where("org_id", "=", orgId)
        .where("id", "in", ids.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.id, r.body);
    }
    return out;
  }

  // The delivery queue

  /** One delivery per (message, endpoint), whoever fans out twice. */
  async insertDeliveries(tx: Db, rows: readonly WebhookDeliveryRow[]): Promise<void> {
    // In chunks: one statement's parameters stay far below SQLite's and PostgreSQL's limits.
    for (let i = 0; i < rows.length; i += 50)
      await tx
        .insertInto("webhook_deliveries")
        .values(rows.slice(i, i + 50))
        .onConflict((oc) => oc.columns(["message_id", "endpoint_id"]).doNothing())
        .execute();
  }

  /**
   * Claims up to `limit` due deliveries for `token` until `leaseUntil`: pending ones whose time has come,
   * and claimed ones whose lease ran out (their worker died), at most `perEndpoint` per endpoint counting
   * those already `busy`. A claim counts as an attempt, so a delivery whose worker keeps dying still runs out
   * of retries. Atomic: on PostgreSQL, workers skip each other's locked rows; on SQLite it runs alone.
   */
  async claim(
    db: Db,
    now: number,
    leaseUntil: number,
    token: string,
    limit: number,
    perEndpoint: number,
    /** Deliveries this worker is already sending, per endpoint: each endpoint gets what is left of its share. */
    busy: ReadonlyMap<string, number> = new Map(),
  ): Promise<WebhookDeliveryRow[]> {
    // The endpoints at their share, and what is left of the share of those partly busy, go in as one
    // parameter each: the statement's text never depends on them, so it is prepared (and, on SQLite,
    // held for the life of the process) once, not once per combination of busy endpoints.
    const full = JSON.stringify([...busy].filter(([, n]) => n >= perEndpoint).map(([id]) => id));
    const left = JSON.stringify(
      Object.fromEntries(
        [...busy].filter(([, n]) => n > 0 && n < perEndpoint).map(([id, n]) => [id, perEndpoint - n]),
      ),
    );
    const pg = this.engine === "postgres";
    const free = pg
      ? sql`endpoint_id NOT IN (SELECT jsonb_array_elements_text(${full}::jsonb))`
      : sql`endpoint_id NOT IN (SELECT value FROM json_each(${full}))`;
    // SQLite reads the shares once, as a table joined on the endpoint (LIMIT -1 makes it build that
    // table once, not scan the JSON again for every candidate row); PostgreSQL looks each one up.
    const shares = pg
      ? sql``
      : sql`LEFT JOIN (SELECT key, value FROM json_each(${left}) LIMIT -1) AS l ON l.key = r.endpoint_id`;
    const share = pg
      ? sql`COALESCE((${left}::jsonb ->> r.endpoint_id)::integer, ${perEndpoint}::integer)`
      : sql`COALESCE(l.value, ${perEndpoint})`;
    // Most looks find nothing due (every write wakes the dispatcher): a plain read answers that for a
    // fraction of the claim's cost, which is a write (a lock, and on SQLite a write transaction). It
    // skips the endpoints already at their share, as the claim does: their backlog is not claimable.
    const anyDue = await sql<{ one: number }>`SELECT 1 AS one FROM webhook_deliveries
      WHERE status = 'pending' AND next_at <= ${now} AND ${free}
      UNION ALL SELECT 1 AS one FROM webhook_deliveries
      WHERE status = 'sending' AND lease_until <= ${now} AND ${free}
      LIMIT 1`.execute(db);
    if (anyDue.rows.length === 0) return [];
    const lock = pg ? sql`FOR UPDATE SKIP LOCKED` : sql``;
    // When no endpoint can reach its share within this claim, the share needs no ranking (the common
    // case of few busy endpoints): the oldest due deliveries are simply taken.
    const ranked = perEndpoint - Math.max(0, ...busy.values()) < limit;
    const pick = ranked
      ? sql`SELECT r.id FROM (
          SELECT id, endpoint_id, next_at,
            ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_at, id) AS rn
          FROM due
        ) AS r ${shares} WHERE r.rn <= ${share} ORDER BY r.next_at LIMIT ${limit}`
      : sql`SELECT id FROM due ORDER BY next_at LIMIT ${limit}`;
    // Two index range scans (status, next_at), each stopping at its limit: never a sort of the backlog.
    const rows = await sql<WebhookDeliveryRow>`WITH due AS (
        SELECT * FROM (
          SELECT id, endpoint_id, next_at FROM webhook_deliveries
          WHERE status = 'pending' AND next_at <= ${now} AND ${free}
          ORDER BY next_at LIMIT ${ranked ? limit * 4 : limit} ${lock}
        ) AS p
        UNION ALL
        SELECT * FROM (
          SELECT id, endpoint_id, next_at FROM webhook_deliveries
          WHERE status = 'sending' AND lease_until <= ${now} AND ${free}
          LIMIT ${limit} ${lock}
        ) AS s
      )
      UPDATE webhook_deliveries
      SET status = 'sending', lease_until = ${leaseUntil}, claimed_by = ${token}, attempts = attempts + 1,
        updated_at = ${now}
      WHERE id IN (${pick})
      RETURNING *`.execute(db);
    return rows.rows.map(delivery);
  }

  /**
   * Settles claimed deliveries that end alike (same claim, same outcome) in one statement; returns the
   * ids still held by their claim (a lost claim, its lease run out, is not among them).
   */
  async settleMany(
    tx: Db,
    ids: readonly string[],
    token: string,
    set: Pick<WebhookDeliveryRow, "status" | "attempts" | "next_at" | "last_status" | "last_error"> & {
      updated_at: number;
    },
  ): Promise<string[]> {
    const rows = await tx
      .updateTable("webhook_deliveries")
      .set({ ...set, lease_until: null, claimed_by: null })
      .where("id", "in", ids)
      .where("status", "=", "sending")
      .where("claimed_by", "=", token)
      .returning("id")
      .execute();
    return rows.map((r) => r.id);
  }

  /** Settles a claimed delivery; false when the claim was lost meanwhile (its lease ran out). */
  async settle(
    tx: Db,
    id: string,
    token: string,
    set: Partial<
      Pick<WebhookDeliveryRow, "status" | "attempts" | "next_at" | "last_status" | "last_error">
    > & {
      updated_at: number;
    },
  ): Promise<boolean> {
    const r = await tx
      .updateTable("webhook_deliveries")
      .set({ ...set, lease_until: null, claimed_by: null })
      .where("id", "=", id)
      .where("status", "=", "sending")
      .where("claimed_by", "=", token)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deliveries(
    db: Db,
    orgId: string,
    filter: { endpointId?: string | undefined; status?: string | undefined },
    limit: number,
    after?: string,
  ): Promise<DeliveryListing[]> {
    let q = db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("webhook_messages as m", "m.id", "d.message_id")
      .selectAll("d")
      .select("m.type")
      .where("d.org_id", "=", orgId);
    if (filter.endpointId) q = q.where("d.endpoint_id", "=", filter.endpointId);
    if (filter.status) q = q.where("d.status", "=", filter.status);
    if (after) q = q.where("d.id", "<", after);
    const rows = await q.orderBy("d.id", "desc").limit(limit).execute();
    return rows.map((r) => ({ ...delivery(r as WebhookDeliveryRow), type: r.type }));
  }

  async delivery(db: Db, orgId: string, id: string): Promise<DeliveryListing | undefined> {
    const rows = await this.deliveriesById(db, orgId, [id]);
    return rows[0];
  }

  private async deliveriesById(db: Db, orgId: string, ids: readonly string[]): Promise<DeliveryListing[]> {
    const rows = await db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("webhook_messages as m", "m.id", "d.message_id")
      .selectAll("d")
      .select("m.type")
      .where("d.org_id", "=", orgId)
      .where("d.id", "in", [...ids])
      .execute();
    return rows.map((r) => ({ ...delivery(r as WebhookDeliveryRow), type: r.type }));
  }

  /** Makes a finished delivery due again now, its attempt count from zero; false if it is not finished. */
  async replay(db: Db, orgId: string, id: string, now: number): Promise<boolean> {
    const r = await db
      .updateTable("webhook_deliveries")
      .set({ status: "pending", attempts: 0, next_at: now, updated_at: now })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .where("status", "in", ["succeeded", "dead"])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Pending deliveries: for /metrics and the drain at shutdown. */
  async pendingCount(db: Db): Promise<number> {
    const r = await db
      .selectFrom("webhook_deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "in", ["pending", "sending"])
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // Attempts (tenant scope)

  async insertAttempts(tx: Db, rows: readonly WebhookAttemptRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 50)
      await tx
        .insertInto("webhook_attempts")
        .values(rows.slice(i, i + 50))
        .execute();
  }

  async attempts(tx: Db, orgId: string, deliveryId: string): Promise<WebhookAttemptRow[]> {
    const rows = await tx
      .selectFrom("webhook_attempts")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("delivery_id", "=", deliveryId)
      .orderBy("at")
      .orderBy("id")
      .execute();
    return rows.map((r) => ({
      ...r,
      at: Number(r.at),
      duration_ms: Number(r.duration_ms),
      status: num(r.status),
    }));
  }
}
