import type { Db } from "../db/database.js";
import type { ApiKeyRow } from "./tables.js";

/** API key queries. Every query but the hash lookup names the organisation (KEY-1). */
export class ApiKeyStore {
  constructor(private readonly db: Db) {}

  /** Runs `fn` in one transaction, with a store bound to it and the transaction itself (for the audit log). */
  transaction<T>(fn: (store: ApiKeyStore, tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => fn(new ApiKeyStore(tx), tx));
  }

  insert(row: ApiKeyRow): Promise<unknown> {
    return this.db.insertInto("api_keys").values(row).execute();
  }

  /** The key with this hash, whatever its state: the caller decides whether it is live. */
  byHash(hash: string): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom("api_keys").selectAll().where("hash", "=", hash).executeTakeFirst();
  }

  get(orgId: string, id: string): Promise<ApiKeyRow | undefined> {
    return this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /** The organisation's keys, newest first (cursor: `before` a key id, ids being time-ordered). */
  list(orgId: string, limit: number, before?: string): Promise<ApiKeyRow[]> {
    let q = this.db.selectFrom("api_keys").selectAll().where("org_id", "=", orgId);
    if (before) q = q.where("id", "<", before);
    return q.orderBy("id", "desc").limit(limit).execute();
  }

  /**
   * Sets the moment a live key stops working, only when that is sooner than the moment already set: a
   * revoke ends a rotation's grace at once, nothing ever extends one. With `rotatedTo`, only a key not
   * rotated before (a key is replaced once). Returns whether a row changed.
   */
  async end(orgId: string, id: string, at: number, now: number, rotatedTo?: string): Promise<boolean> {
    let q = this.db
      .updateTable("api_keys")
      .set({ revoked_at: at, ...(rotatedTo ? { rotated_to: rotatedTo } : {}) })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .where((eb) => eb.or([eb("revoked_at", "is", null), eb("revoked_at", ">", now)]))
      .where((eb) => eb.or([eb("revoked_at", "is", null), eb("revoked_at", ">", at)]))
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]));
    if (rotatedTo) q = q.where("rotated_to", "is", null);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Records last-used times gathered in memory (one statement per key, once per flush). */
  async touch(used: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, at] of used)
      await this.db
        .updateTable("api_keys")
        .set({ last_used_at: at })
        .where("id", "=", id)
        .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", at)]))
        .execute();
  }
}
