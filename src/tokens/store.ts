import type { Db } from "../db/database.js";
import type { SigningKeyRow } from "./tables.js";

/** Queries of the signing keys (AUTH-9). */
export class SigningKeyStore {
  /** The keys still of use: next, current, and those retired since `retiredSince` (the overlap). */
  async live(db: Db, retiredSince: number): Promise<SigningKeyRow[]> {
    return db
      .selectFrom("signing_keys")
      .selectAll()
      .where((eb) => eb.or([eb("state", "in", ["next", "current"]), eb("retired_at", ">=", retiredSince)]))
      .orderBy("created_at")
      .execute();
  }

  async insert(db: Db, row: SigningKeyRow): Promise<void> {
    await db.insertInto("signing_keys").values(row).execute();
  }

  /**
   * Retires `current` and promotes `next` to current, both only if they still are what the caller read
   * (another node may have rotated meanwhile); false when they were not.
   */
  async promote(tx: Db, current: string | undefined, next: string, now: number): Promise<boolean> {
    if (current !== undefined) {
      const retired = await tx
        .updateTable("signing_keys")
        .set({ state: "retired", retired_at: now })
        .where("kid", "=", current)
        .where("state", "=", "current")
        .executeTakeFirst();
      if (Number(retired.numUpdatedRows) !== 1) return false;
    }
    const promoted = await tx
      .updateTable("signing_keys")
      .set({ state: "current", activated_at: now })
      .where("kid", "=", next)
      .where("state", "=", "next")
      .executeTakeFirst();
    return Number(promoted.numUpdatedRows) === 1;
  }
}
