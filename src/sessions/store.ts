import type { Db } from "../db/database.js";
import type { SessionEntry } from "./cache.js";
import type { SessionRow } from "./tables.js";

/** The only code that touches the `sessions` table. */
export class SessionStore {
  constructor(private readonly db: Db) {}

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

  /** Deletes one of the user's sessions by public id; false if it is not theirs or does not exist. */
  async deleteByPublicId(userId: string, kind: SessionRow["kind"], publicId: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom("sessions")
      .where("user_id", "=", userId)
      .where("kind", "=", kind)
      .where("public_id", "=", publicId)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
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

  /** Deletes the impersonation sessions an admin opened; returns the impersonated users. */
  async deleteImpersonations(adminId: string): Promise<string[]> {
    const rows = await this.db
      .deleteFrom("sessions")
      .where("impersonator_id", "=", adminId)
      .returning("user_id")
      .execute();
    return [...new Set(rows.map((r) => r.user_id))];
  }

  /** Deletes every session of the user of that kind, except `keepId` when given; returns how many. */
  async deleteAllForUser(userId: string, kind: SessionRow["kind"], keepId?: string): Promise<number> {
    let q = this.db.deleteFrom("sessions").where("user_id", "=", userId).where("kind", "=", kind);
    if (keepId) q = q.where("id", "!=", keepId);
    const res = await q.executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
