import { sql } from "kysely";
import type { Db, Engine } from "../db/database.js";
import { containsPattern } from "../db/search.js";
import { type Access, AccessCache } from "./access-cache.js";
import type { Role } from "./permissions.js";
import type { MembershipRow, OrganizationRow } from "./tables.js";

/** The outcome of a role change or removal; `before`: the member's role it replaced. */
export type RoleChange = { result: "ok"; before: Role } | { result: "not_found" | "last_owner" };

/**
 * The only code that touches `organizations` and `memberships`. A store made by `transaction` is bound to
 * that transaction: its writes commit with whatever else the caller does in it (the audit entry of the
 * change, AUDIT-2).
 */
export class OrgStore {
  constructor(
    private readonly db: Db,
    private readonly engine: Engine,
    private readonly cache: AccessCache = new AccessCache(),
    private readonly now: () => number = () => Date.now(),
    /** Set on a store bound to a transaction: cache drops to repeat once it commits. */
    private readonly afterCommit?: Array<() => void>,
  ) {}

  /** Runs `fn` in one transaction, with a store bound to it and the transaction itself (for the audit log). */
  async transaction<T>(fn: (store: OrgStore, tx: Db) => Promise<T>): Promise<T> {
    const drops: Array<() => void> = [];
    const result = await this.db
      .transaction()
      .execute((tx) => fn(new OrgStore(tx, this.engine, this.cache, this.now, drops), tx));
    for (const drop of drops) drop();
    return result;
  }

  /** `fn` in the transaction this store is bound to, or in a new one. */
  private atomically<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.db.isTransaction ? fn(this.db) : this.db.transaction().execute(fn);
  }

  /**
   * Drops cached access now and, inside a transaction, once more after it commits: a request reading the
   * old row in between could otherwise cache it again for the cache's whole lifetime.
   */
  private drop(fn: () => void): void {
    fn();
    this.afterCommit?.push(fn);
  }

  /** The cached access entry, if any (no query). */
  accessCached(orgId: string, userId: string): Access | undefined {
    return this.cache.get(orgId, userId, this.now());
  }

  /** Creates the organisation and its first OWNER atomically; false if the slug is taken. */
  async create(org: OrganizationRow, ownerId: string): Promise<boolean> {
    return this.atomically(async (tx) => {
      const res = await tx
        .insertInto("organizations")
        .values(org)
        .onConflict((oc) => oc.column("slug").doNothing())
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
      await tx
        .insertInto("memberships")
        .values({ org_id: org.id, user_id: ownerId, role: "OWNER", created_at: org.created_at })
        .execute();
      return true;
    });
  }

  find(id: string): Promise<OrganizationRow | undefined> {
    return this.db.selectFrom("organizations").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /**
   * The organisation, locked until the transaction ends on PostgreSQL (SQLite serialises writers
   * anyway): the settings a change replaces are exactly those it records as `before`.
   */
  findForUpdate(id: string): Promise<OrganizationRow | undefined> {
    const q = this.db.selectFrom("organizations").selectAll().where("id", "=", id);
    return (this.engine === "postgres" ? q.forUpdate() : q).executeTakeFirst();
  }

  /**
   * The caller's role in the organisation and whether it requires MFA; undefined if not a member.
   * Served from the access cache when possible, else one query.
   */
  async access(orgId: string, userId: string): Promise<Access | undefined> {
    const now = this.now();
    const hit = this.cache.get(orgId, userId, now);
    if (hit) return hit;
    const row = await this.lookupAccess(orgId, userId);
    if (row) this.cache.set(orgId, userId, row, now);
    return row;
  }

  private lookupAccess(
    orgId: string,
    userId: string,
  ): Promise<{ role: Role; require_mfa: number } | undefined> {
    return this.db
      .selectFrom("memberships")
      .innerJoin("organizations", "organizations.id", "memberships.org_id")
      .select(["memberships.role", "organizations.require_mfa"])
      .where("memberships.org_id", "=", orgId)
      .where("memberships.user_id", "=", userId)
      .executeTakeFirst();
  }

  /** The user's organisations with their role, by id (cursor pagination: `after` an organisation id). */
  listForUser(
    userId: string,
    limit: number,
    after: string | undefined,
  ): Promise<Array<OrganizationRow & { role: Role }>> {
    let q = this.db
      .selectFrom("memberships")
      .innerJoin("organizations", "organizations.id", "memberships.org_id")
      .selectAll("organizations")
      .select("memberships.role")
      .where("memberships.user_id", "=", userId)
      .orderBy("organizations.id")
      .limit(limit);
    if (after) q = q.where("organizations.id", ">", after);
    return q.execute();
  }

  async update(
    id: string,
    patch: Partial<Pick<OrganizationRow, "name" | "require_mfa">>,
    now: number,
  ): Promise<void> {
    await this.db
      .updateTable("organizations")
      .set({ ...patch, updated_at: now })
      .where("id", "=", id)
      .execute();
    this.drop(() => this.cache.dropOrg(id));
  }

  /** An organisation's members with their email, by user id (cursor pagination: `after` a user id). */
  listMembers(
    orgId: string,
    limit: number,
    after: string | undefined,
  ): Promise<Array<MembershipRow & { email: string }>> {
    let q = this.db
      .selectFrom("memberships")
      .innerJoin("users", "users.id", "memberships.user_id")
      .selectAll("memberships")
      .select("users.email")
      .where("memberships.org_id", "=", orgId)
      .orderBy("memberships.user_id")
      .limit(limit);
    if (after) q = q.where("memberships.user_id", ">", after);
    return q.execute();
  }

  /** Adds a member; false if already one. `tx`: the invitation's transaction, so both commit together. */
  async addMember(
    orgId: string,
    userId: string,
    role: Role,
    now: number,
    tx: Db = this.db,
  ): Promise<boolean> {
    const res = await tx
      .insertInto("memberships")
      .values({ org_id: orgId, user_id: userId, role, created_at: now })
      .onConflict((oc) => oc.columns(["org_id", "user_id"]).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  membership(orgId: string, userId: string, tx: Db = this.db): Promise<MembershipRow | undefined> {
    return tx
      .selectFrom("memberships")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
  }

  /** Sets a member's role (an accepted invitation raising it); the OWNER rules are the caller's. */
  async setRole(orgId: string, userId: string, role: Role, tx: Db = this.db): Promise<void> {
    await tx
      .updateTable("memberships")
      .set({ role })
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .execute();
    this.drop(() => this.cache.dropMember(orgId, userId));
  }

  /**
   * Changes a role (or removes the member, `role` null) unless that would leave no OWNER. Atomic: on
   * PostgreSQL the organisation's OWNER rows are locked for the transaction, so two owners demoting each
   * other at once cannot both succeed; SQLite serialises transactions on its one connection. In the
   * transaction of a bound store, else in one of its own.
   */
  async changeMember(orgId: string, userId: string, role: Role | null): Promise<RoleChange> {
    const change = await this.changeMemberTx(orgId, userId, role);
    if (change.result === "ok") this.drop(() => this.cache.dropMember(orgId, userId));
    return change;
  }

  private changeMemberTx(orgId: string, userId: string, role: Role | null): Promise<RoleChange> {
    return this.atomically(async (tx) => {
      let owners = tx
        .selectFrom("memberships")
        .select("user_id")
        .where("org_id", "=", orgId)
        .where("role", "=", "OWNER");
      if (this.engine === "postgres") owners = owners.forUpdate();
      const ownerIds = (await owners.execute()).map((o) => o.user_id);
      const target = await tx
        .selectFrom("memberships")
        .select("role")
        .where("org_id", "=", orgId)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (!target) return { result: "not_found" };
      if (target.role === "OWNER" && role !== "OWNER" && ownerIds.length <= 1)
        return { result: "last_owner" };
      if (role === null)
        await tx
          .deleteFrom("memberships")
          .where("org_id", "=", orgId)
          .where("user_id", "=", userId)
          .execute();
      else await this.setRole(orgId, userId, role, tx);
      return { result: "ok", before: target.role };
    });
  }

  /** The organisations where `userId` is the only OWNER and someone else is a member (GDPR-2's refusal). */
  async soleOwnerships(userId: string): Promise<string[]> {
    const rows = await sql<{ org_id: string }>`SELECT m.org_id FROM memberships m
      WHERE m.user_id = ${userId} AND m.role = 'OWNER'
        AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = m.org_id AND o.role = 'OWNER' AND o.user_id <> m.user_id)
        AND EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = m.org_id AND o.user_id <> m.user_id)
      ORDER BY m.org_id`.execute(this.db);
    return rows.rows.map((r) => r.org_id);
  }

  /**
   * Deletes every membership of the user (an erased account, GDPR-2) unless that would leave an
   * organisation with members but no OWNER: checked and done in the caller's transaction `tx`, the
   * owners of its organisations locked on PostgreSQL (as `changeMember` does). Cached access is dropped
   * now; the caller drops it again once `tx` commits (`dropMember`). Returns the organisations it left,
   * or those that stopped it.
   */
  async removeUser(userId: string, tx: Db): Promise<{ left: string[]; blocked: string[] }> {
    const s = new OrgStore(tx, this.engine, this.cache, this.now);
    {
      if (this.engine === "postgres")
        await sql`SELECT 1 FROM memberships WHERE role = 'OWNER'
          AND org_id IN (SELECT org_id FROM memberships WHERE user_id = ${userId}) FOR UPDATE`.execute(tx);
      const blocked = await s.soleOwnerships(userId);
      if (blocked.length) return { left: [], blocked };
      const rows = await tx
        .deleteFrom("memberships")
        .where("user_id", "=", userId)
        .returning("org_id")
        .execute();
      for (const { org_id } of rows) this.cache.dropMember(org_id, userId);
      return { left: rows.map((r) => r.org_id), blocked };
    }
  }

  /** Drops cached access of `userId` to `orgIds` (after the transaction that removed it commits). */
  dropMember(orgIds: readonly string[], userId: string): void {
    for (const org of orgIds) this.cache.dropMember(org, userId);
  }

  /** Every organisation with its member count, by id (cursor pagination), optionally those whose name or slug contains `search`. */
  listAll(limit: number, after: string | undefined, search?: string) {
    let q = this.db
      .selectFrom("organizations")
      .leftJoin("memberships", "memberships.org_id", "organizations.id")
      .select([
        "organizations.id",
        "organizations.name",
        "organizations.slug",
        "organizations.created_at",
        (eb) => eb.fn.count<number>("memberships.user_id").as("members"),
      ])
      .groupBy(["organizations.id", "organizations.name", "organizations.slug", "organizations.created_at"])
      .orderBy("organizations.id")
      .limit(limit);
    if (after) q = q.where("organizations.id", ">", after);
    if (search) {
      const pattern = containsPattern(search);
      q = q.where((eb) =>
        eb.or([
          sql<boolean>`lower(organizations.name) like ${pattern} escape '\\'`,
          sql<boolean>`organizations.slug like ${pattern} escape '\\'`,
        ]),
      );
    }
    return q.execute();
  }
}
