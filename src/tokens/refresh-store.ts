import type { Db } from "../db/database.js";
import type { RefreshTokenRow, TokenFamilyRow } from "./tables.js";

/**
 * Queries of refresh tokens and their families (AUTH-9). Every refresh and revocation locks its family
 * row first (PostgreSQL `FOR UPDATE`; SQLite runs one write transaction at a time), so a revocation and
 * a refresh of the same family never interleave: a successor is only written while its family is live.
 */
export class RefreshTokenStore {
  constructor(private readonly engine: "sqlite" | "postgres") {}

  async insertFamily(db: Db, row: TokenFamilyRow): Promise<void> {
    await db.insertInto("token_families").values(row).execute();
  }

  async insert(db: Db, row: RefreshTokenRow): Promise<void> {
    await db.insertInto("refresh_tokens").values(row).execute();
  }

  async byHash(db: Db, hash: string): Promise<RefreshTokenRow | undefined> {
    return db.selectFrom("refresh_tokens").selectAll().where("token_hash", "=", hash).executeTakeFirst();
  }

  /** The family, locked for the rest of the transaction. */
  async lockFamily(tx: Db, id: string): Promise<TokenFamilyRow | undefined> {
    const q = tx.selectFrom("token_families").selectAll().where("id", "=", id);
    return (this.engine === "postgres" ? q.forUpdate() : q).executeTakeFirst();
  }

  /** Marks a token used if it is still unused: of two requests presenting it at once, one gets true. */
  async use(tx: Db, id: string, now: number): Promise<boolean> {
    const r = await tx
      .updateTable("refresh_tokens")
      .set({ used_at: now })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Revokes a family if it is live; false when it already was revoked. */
  async revokeFamily(tx: Db, id: string, now: number, reason: string): Promise<boolean> {
    const r = await tx
      .updateTable("token_families")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Revokes every live family of a user (in one organisation, or in all); returns them. */
  async revokeFamiliesOf(
    tx: Db,
    userId: string,
    orgId: string | undefined,
    now: number,
    reason: string,
  ): Promise<TokenFamilyRow[]> {
    let q = tx
      .updateTable("token_families")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("user_id", "=", userId)
      .where("revoked_at", "is", null);
    if (orgId !== undefined) q = q.where("org_id", "=", orgId);
    return q.returningAll().execute();
  }

  /** Deletes families that expired or were revoked before `before` (their tokens go with them). */
  async purge(db: Db, before: number): Promise<number> {
    const r = await db
      .deleteFrom("token_families")
      .where((eb) => eb.or([eb("expires_at", "<", before), eb("revoked_at", "<", before)]))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
