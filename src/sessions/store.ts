import type { Db } from "../db/database.js";
import type { SessionEntry } from "./cache.js";
import type { SessionRow } from "./tables.js";

/** An impersonation session ended by its admin: what its audit record names (AUTHZ-4). */
export interface EndedImpersonation {
  readonly sessionId: string;
  readonly userId: string;
  readonly userEmail: string | null;
}

/** The only code that touches the `sessions` table. */
export class SessionStore {
  constructor(private readonly db: Db) {}

  /**
   * Runs `fn` on one transaction: the store on it, and the handle itself for the audit record of the
   * change (AUDIT-2), so the change and its record commit or roll back together.
   */
  transaction<T>(fn: (store: SessionStore, tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => fn(new SessionStore(tx), tx));
  }

  async insert(row: SessionRow): Promise<void> {
    await this.db.insertInto("sessions").values(row).execute();
  }

  /** The session with its owner's email (a user, or a platform admin), in one query. */
  async find(id: string): Promise<SessionEntry | undefined> {
    const row = await this.db
      .selectFrom("sessions")
      .leftJoin("users", "users.id", "sessions.user_id")
      .leftJoin("platform_admins", "platform_admins.id", "sessions.user_id")
      .selectAll("sessions")
      .select((eb) => [
        eb.fn.coalesce("users.email", "platform_admins.email").as("email"),
        "users.email_verified_at",
        "users.name",
      ])
      .where("sessions.id", "=", id)
      .executeTakeFirst();
    return row as SessionEntry | undefined;
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable("sessions").set({ last_seen_at: now }).where("id", "=", id).execute();
  }

  async setReauth(id: string, now: number): Promise<void> {
    await this.db
      .updateTable("sessions")
      .set({ reauth_at: now, last_seen_at: now })
      .where("id", "=", id)
      .execute();
  }

  /**
   * Deletes up to `limit` sessions that ended before `before`: at their absolute end, or idle for
   * `idleMs` since they were last seen (GDPR-3); returns how many.
   */
  async purge(before: number, idleMs: number, limit: number): Promise<number> {
    const ended = this.db
      .selectFrom("sessions")
      .select("id")
      .where((eb) => eb.or([eb("expires_at", "<", before), eb("last_seen_at", "<", before - idleMs)]))
      .limit(limit);
    const r = await this.db.deleteFrom("sessions").where("id", "in", ended).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("id", "=", id).execute();
  }

  listForUser(userId: string, kind: SessionRow["kind"], now: number): Promise<SessionRow[]> {
    return this.db
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", userId)
      .where("kind", "=", kind)
      .where("expires_at", ">", now)
      .orderBy("created_at", "desc")
      .execute();
  }

  /** Deletes one of the user's sessions by public id; returns it, or undefined if it is not theirs or does not exist. */
  deleteByPublicId(
    userId: string,
    kind: SessionRow["kind"],
    publicId: string,
  ): Promise<SessionRow | undefined> {
    return this.db
      .deleteFrom("sessions")
      .where("user_id", "=", userId)
      .where("kind", "=", kind)
      .where("public_id", "=", publicId)
      .returningAll()
      .executeTakeFirst();
  }

  /** The admin's newest impersonation session still running, if any. */
  async latestImpersonation(adminId: string, now: number): Promise<SessionRow | undefined> {
    return this.db
      .selectFrom("sessions")
      .selectAll()
      .where("impersonator_id", "=", adminId)
      .where("expires_at", ">", now)
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  /** Deletes the impersonation sessions an admin opened; returns them with each user's email, in one statement. */
  deleteImpersonations(adminId: string): Promise<EndedImpersonation[]> {
    return this.db
      .deleteFrom("sessions")
      .where("impersonator_id", "=", adminId)
      .returning((eb) => [
        "sessions.public_id as sessionId",
        "sessions.user_id as userId",
        eb
          .selectFrom("users")
          .select("users.email")
          .whereRef("users.id", "=", "sessions.user_id")
          .as("userEmail"),
      ])
      .execute();
  }

  /** Deletes every session of the user of that kind, except `keepId` when given; returns how many. */
  async deleteAllForUser(userId: string, kind: SessionRow["kind"], keepId?: string): Promise<number> {
    let q = this.db.deleteFrom("sessions").where("user_id", "=", userId).where("kind", "=", kind);
    if (keepId) q = q.where("id", "!=", keepId);
    const res = await q.executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
