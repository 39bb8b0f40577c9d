import { sql } from "kysely";
import type { Db } from "../db/database.js";
import { containsPattern } from "../db/search.js";
import type { EmailTokenRow, UserRow } from "./tables.js";

/** The only code that touches the `users` and `email_tokens` tables. */
export class IdentityStore {
  constructor(private readonly db: Db) {}

  /** Deletes mailed links that expired before `before`, used or not; returns how many. */
  async purgeTokens(before: number): Promise<number> {
    const r = await this.db.deleteFrom("email_tokens").where("expires_at", "<", before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Runs `fn` on one transaction: the store on it, and the handle itself for the audit record of the
   * change (AUDIT-2), so the change and its record commit or roll back together.
   */
  transaction<T>(fn: (store: IdentityStore, tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => fn(new IdentityStore(tx), tx));
  }

  /** Inserts a user; returns false when the email is taken (unique constraint), true otherwise. */
  async createUser(row: UserRow): Promise<boolean> {
    const res = await this.db
      .insertInto("users")
      .values(row)
      .onConflict((oc) => oc.column("email").doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  findUserByEmail(email: string): Promise<UserRow | undefined> {
    return this.db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();
  }

  findUserById(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async markVerified(userId: string, now: number): Promise<void> {
    await this.db
      .updateTable("users")
      .set({ email_verified_at: now, updated_at: now })
      .where("id", "=", userId)
      .where("email_verified_at", "is", null)
      .execute();
  }

  async setName(userId: string, name: string | null, now: number): Promise<void> {
    await this.db.updateTable("users").set({ name, updated_at: now }).where("id", "=", userId).execute();
  }

  /** GDPR-2: the account's address and password replaced, in the caller's transaction. */
  async retire(userId: string, placeholder: string, now: number, tx: Db): Promise<void> {
    await tx
      .updateTable("users")
      .set({ email: placeholder, password_hash: null, updated_at: now })
      .where("id", "=", userId)
      .execute();
  }

  async setPasswordHash(userId: string, hash: string, now: number): Promise<void> {
    await this.db
      .updateTable("users")
      .set({ password_hash: hash, updated_at: now })
      .where("id", "=", userId)
      .execute();
  }

  async insertToken(row: EmailTokenRow): Promise<void> {
    await this.db.insertInto("email_tokens").values(row).execute();
  }

  /**
   * consumeOne: marks the token used and returns its user, in one conditional UPDATE. Exactly one caller
   * receives the user id; racers, and callers with an expired, used or unknown token, receive null.
   */
  async consumeToken(id: string, purpose: EmailTokenRow["purpose"], now: number): Promise<string | null> {
    const row = await this.db
      .updateTable("email_tokens")
      .set({ consumed_at: now })
      .where("id", "=", id)
      .where("purpose", "=", purpose)
      .where("consumed_at", "is", null)
      .where("expires_at", ">", now)
      .returning("user_id")
      .executeTakeFirst();
    return row?.user_id ?? null;
  }

  /** The user of a live (unspent, unexpired) token, without spending it: to check a request before acting. */
  async liveTokenUser(id: string, purpose: EmailTokenRow["purpose"], now: number): Promise<string | null> {
    const row = await this.db
      .selectFrom("email_tokens")
      .select("user_id")
      .where("id", "=", id)
      .where("purpose", "=", purpose)
      .where("consumed_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return row?.user_id ?? null;
  }

  /** Spends every outstanding token of a purpose for a user (a reset or a verification ends the others). */
  async consumeAllTokens(userId: string, purpose: EmailTokenRow["purpose"], now: number): Promise<void> {
    await this.db
      .updateTable("email_tokens")
      .set({ consumed_at: now })
      .where("user_id", "=", userId)
      .where("purpose", "=", purpose)
      .where("consumed_at", "is", null)
      .execute();
  }

  listUsers(limit: number, after: string | undefined, search?: string): Promise<UserRow[]> {
    let q = this.db.selectFrom("users").selectAll().orderBy("id").limit(limit);
    if (after) q = q.where("id", ">", after);
    if (search) q = q.where(sql<boolean>`email like ${containsPattern(search)} escape '\\'`);
    return q.execute();
  }
}
