import type { Db } from "../db/database.js";
import type { PasskeyRow, WebauthnChallengeRow } from "./tables.js";

/** Passkey and challenge queries; every passkey query but the sign-in lookup names its user. */
export class PasskeyStore {
  constructor(private readonly db: Db) {}

  byId(id: string): Promise<PasskeyRow | undefined> {
    return this.db.selectFrom("passkeys").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The user's passkeys; `db` a transaction when the caller is inside one (SQLite has one connection). */
  list(userId: string, db: Db = this.db): Promise<PasskeyRow[]> {
    return db
      .selectFrom("passkeys")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at")
      .execute();
  }

  async insert(db: Db, row: PasskeyRow): Promise<void> {
    await db.insertInto("passkeys").values(row).execute();
  }

  async rename(db: Db, userId: string, id: string, name: string): Promise<boolean> {
    const r = await db
      .updateTable("passkeys")
      .set({ name })
      .where("user_id", "=", userId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async remove(db: Db, userId: string, id: string): Promise<boolean> {
    const r = await db
      .deleteFrom("passkeys")
      .where("user_id", "=", userId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  /** Records a use; the counter only moves forward (a concurrent use with a lower one loses). */
  async used(id: string, counter: number, now: number): Promise<void> {
    await this.db
      .updateTable("passkeys")
      .set({ counter, last_used_at: now })
      .where("id", "=", id)
      // Authenticators without a counter always send 0; any other never moves back, even when two
      // sign-ins with one passkey finish out of order.
      .where((eb) => (counter === 0 ? eb.val(true) : eb("counter", "<", counter)))
      .execute();
  }

  async addChallenge(row: WebauthnChallengeRow): Promise<void> {
    await this.db.insertInto("webauthn_challenges").values(row).execute();
  }

  /** Takes a live challenge of this purpose once: a second take, or an expired one, finds nothing. */
  async takeChallenge(id: string, purpose: string, now: number): Promise<WebauthnChallengeRow | undefined> {
    const row = await this.db
      .selectFrom("webauthn_challenges")
      .selectAll()
      .where("id", "=", id)
      .where("purpose", "=", purpose)
      .executeTakeFirst();
    if (!row || row.used_at !== null || row.expires_at <= now) return undefined;
    const r = await this.db
      .updateTable("webauthn_challenges")
      .set({ used_at: now })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? row : undefined;
  }

  async purgeChallenges(now: number): Promise<number> {
    const r = await this.db
      .deleteFrom("webauthn_challenges")
      .where("expires_at", "<", now)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
