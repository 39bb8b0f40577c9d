import type { Db } from "../db/database.js";
import type { Role } from "./permissions.js";

/** An invitation (AUTHZ-5): tenant data (org_id, RLS); the token is stored only as its SHA-256. */
export interface InvitationRow {
  id: string;
  public_id: string;
  org_id: string;
  email: string;
  role: Role;
  invited_by: string;
  expires_at: number;
  accepted_at: number | null;
  revoked_at: number | null;
  created_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    invitations: InvitationRow;
  }
}

/** Invitation queries. Every method takes the organisation's transaction (`withOrg`). */
export const invitationsStore = {
  async insert(tx: Db, row: InvitationRow): Promise<void> {
    await tx.insertInto("invitations").values(row).execute();
  },

  /** Invitations neither accepted, revoked nor expired at `now`, by public id (cursor: `after` a public id). */
  pending(tx: Db, orgId: string, now: number, limit: number, after?: string): Promise<InvitationRow[]> {
    let q = tx
      .selectFrom("invitations")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("accepted_at", "is", null)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", now)
      .orderBy("public_id")
      .limit(limit);
    if (after) q = q.where("public_id", ">", after);
    return q.execute();
  },

  byTokenHash(tx: Db, orgId: string, id: string): Promise<InvitationRow | undefined> {
    return tx
      .selectFrom("invitations")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
  },

  byPublicId(tx: Db, orgId: string, publicId: string): Promise<InvitationRow | undefined> {
    return tx
      .selectFrom("invitations")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("public_id", "=", publicId)
      .executeTakeFirst();
  },

  revoke(tx: Db, orgId: string, publicId: string, now: number): Promise<boolean> {
    return invitationsStore.updatePending(tx, orgId, publicId, now, { revoked_at: now });
  },

  /**
   * Replaces the token of a pending invitation (resend) and extends its life. An expired invitation is
   * not pending: it stays expired (false), so a resend never revives it.
   */
  retoken(
    tx: Db,
    orgId: string,
    publicId: string,
    change: { id: string; expiresAt: number; now: number },
  ): Promise<boolean> {
    return invitationsStore.updatePending(tx, orgId, publicId, change.now, {
      id: change.id,
      expires_at: change.expiresAt,
    });
  },

  /** Changes a pending invitation (not accepted, revoked or expired at `now`); false if there is none. */
  async updatePending(
    tx: Db,
    orgId: string,
    publicId: string,
    now: number,
    changes: Partial<InvitationRow>,
  ): Promise<boolean> {
    const r = await tx
      .updateTable("invitations")
      .set(changes)
      .where("org_id", "=", orgId)
      .where("public_id", "=", publicId)
      .where("accepted_at", "is", null)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** consumeOne: exactly one caller receives the live invitation; expired, revoked, used or racing callers get undefined. */
  consume(tx: Db, orgId: string, id: string, now: number): Promise<InvitationRow | undefined> {
    return tx
      .updateTable("invitations")
      .set({ accepted_at: now })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .where("accepted_at", "is", null)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", now)
      .returningAll()
      .executeTakeFirst();
  },
};
