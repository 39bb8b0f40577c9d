import type { Db } from "../db/database.js";
import type { IdempotencyKeyRow } from "./tables.js";

type Key = Pick<IdempotencyKeyRow, "org_id" | "principal" | "route" | "key_hash" | "created_at">;

const row = (r: IdempotencyKeyRow): IdempotencyKeyRow => ({
  ...r,
  status: r.status === null ? null : Number(r.status),
  created_at: Number(r.created_at),
  expires_at: Number(r.expires_at),
});

/** Idempotency key queries, each in the organisation's scope (`withOrg`). */
export class IdempotencyStore {
  /** Inserts the claim unless the key exists; true when this call claimed it. */
  async claim(tx: Db, r: IdempotencyKeyRow): Promise<boolean> {
    const res = await tx
      .insertInto("idempotency_keys")
      .values(r)
      .onConflict((oc) => oc.columns(["org_id", "principal", "route", "key_hash"]).doNothing())
      .executeTakeFirst();
    return Number(res?.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async find(tx: Db, k: Key): Promise<IdempotencyKeyRow | undefined> {
    const r = await tx
      .selectFrom("idempotency_keys")
      .selectAll()
      .where("org_id", "=", k.org_id)
      .where("principal", "=", k.principal)
      .where("route", "=", k.route)
      .where("key_hash", "=", k.key_hash)
      .executeTakeFirst();
    return r && row(r);
  }

  /** Replaces an expired or abandoned claim with `r`; true when it did (another request may have first). */
  async reclaim(tx: Db, r: IdempotencyKeyRow, stale: IdempotencyKeyRow): Promise<boolean> {
    const res = await tx
      .updateTable("idempotency_keys")
      .set(r)
      .where("org_id", "=", r.org_id)
      .where("principal", "=", r.principal)
      .where("route", "=", r.route)
      .where("key_hash", "=", r.key_hash)
      .where("created_at", "=", stale.created_at)
      .where("fingerprint", "=", stale.fingerprint)
      .where("state", "=", stale.state)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async complete(
    tx: Db,
    k: Key,
    answer: Pick<IdempotencyKeyRow, "status" | "body" | "content_type">,
  ): Promise<void> {
    await tx
      .updateTable("idempotency_keys")
      .set({ ...answer, state: "done" })
      .where("org_id", "=", k.org_id)
      .where("principal", "=", k.principal)
      .where("route", "=", k.route)
      .where("key_hash", "=", k.key_hash)
      .where("state", "=", "in_flight")
      // This claim's, not one that replaced it after it was taken for abandoned.
      .where("created_at", "=", k.created_at)
      .execute();
  }

  async release(tx: Db, k: Key): Promise<void> {
    await tx
      .deleteFrom("idempotency_keys")
      .where("org_id", "=", k.org_id)
      .where("principal", "=", k.principal)
      .where("route", "=", k.route)
      .where("key_hash", "=", k.key_hash)
      .where("state", "=", "in_flight")
      // This claim's, not one that replaced it after it was taken for abandoned.
      .where("created_at", "=", k.created_at)
      .execute();
  }

  async purge(tx: Db, orgId: string, now: number): Promise<void> {
    await tx
      .deleteFrom("idempotency_keys")
      .where("org_id", "=", orgId)
      .where("expires_at", "<=", now)
      .execute();
  }
}
