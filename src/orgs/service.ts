import { randomBytes } from "node:crypto";
import type { AuditService } from "../audit/service.js";
import type { Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { MfaService } from "../mfa/service.js";
import { newId } from "../util/ids.js";
import type { Access } from "./access-cache.js";
import type { PermissionTable, Role } from "./permissions.js";
import type { Stamp } from "./stamp.js";
import type { OrgStore, RoleChange } from "./store.js";
import type { MembershipRow, OrganizationRow } from "./tables.js";

/** A URL-safe slug from a name: lower-case ASCII letters, digits and single dashes. */
export function slugify(name: string): string {
  const s = name
    .normalize("NFKD")
    .replace(/[^\w\s-]/g, "")
    .toLowerCase()
    .replace(/[\s_-]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 48);
  return s || "org";
}

/** Who is acting in an organisation: a member with a role (the rules below are about roles). */
export interface Actor {
  readonly userId: string;
  readonly role: Role;
}

/**
 * How strongly the caller is proved right now, for the rules that weaken an organisation's security: is
 * an admin impersonating the user (AUTHZ-4), and did the caller prove the password within the re-auth
 * window (AUTH-14)?
 */
export interface Assurance {
  readonly impersonated: boolean;
  readonly recentlyAuthenticated: boolean;
}

/**
 * Organisations and memberships (AUTHZ-1): creation, settings, roles and removal, with the rules that sit
 * on top of the permission table: only an OWNER grants, changes or removes an OWNER; an organisation
 * always keeps one; requiring MFA of everyone starts with yourself. Every change is recorded in the
 * organisation's audit log in the transaction that makes it (AUDIT-2), stamped `by` the caller's request.
 */
export class OrgService {
  constructor(
    private readonly store: OrgStore,
    private readonly mfa: MfaService,
    readonly permissions: PermissionTable,
    private readonly audit: AuditService,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Creates an organisation with `ownerId` as its first OWNER, atomically. A slug the caller chose that is
   * taken: SLUG_TAKEN. A slug derived from the name never fails: when taken (two "Acme"s, or names
   * without Latin letters, which all derive "org"), a random suffix makes it unique, so creating an
   * organisation never tells anyone which slugs other tenants hold.
   */
  async create(
    ownerId: string,
    input: { name: string; slug?: string | undefined },
    by: Stamp,
  ): Promise<OrganizationRow> {
    const now = this.now();
    const { slug } = input;
    const base = slug ?? slugify(input.name);
    for (let attempt = 0; attempt < 6; attempt++) {
      const org: OrganizationRow = {
        id: newId("org", now),
        name: input.name.trim(),
        slug: attempt === 0 ? base : `${base.slice(0, 40)}-${randomBytes(5).toString("hex").slice(0, 7)}`,
        require_mfa: 0,
        created_at: now,
        updated_at: now,
      };
      const created = await this.store.transaction(async (s, tx) => {
        if (!(await s.create(org, ownerId))) return false;
        await this.audit.record(
          tx,
          by({ action: "org.created", orgId: org.id, entity: orgEntity(org.id), after: settingsOf(org) }),
        );
        return true;
      });
      if (created) return org;
      if (slug) throw new AppError("SLUG_TAKEN", `The slug "${slug}" is taken.`);
    }
    throw new AppError("SERVICE_UNAVAILABLE", "Could not find a free slug; try again.");
  }

  listForUser(
    userId: string,
    limit: number,
    after: string | undefined,
  ): Promise<Array<OrganizationRow & { role: Role }>> {
    return this.store.listForUser(userId, limit, after);
  }

  async get(orgId: string): Promise<OrganizationRow> {
    const org = await this.store.find(orgId);
    if (!org) throw new AppError("NOT_FOUND");
    return org;
  }

  /**
   * Renames, or requires MFA of every member (only once the actor has it: nobody locks themselves out).
   * Turning the requirement off weakens every member's protection (AUTH-8), so it takes an OWNER, not
   * impersonated (AUTHZ-4), who proved the password recently (AUTH-14); turning it on takes org:update.
   */
  async update(
    orgId: string,
    actor: Actor,
    patch: { name?: string | undefined; requireMfa?: boolean | undefined },
    assurance: Assurance,
    by: Stamp,
  ): Promise<OrganizationRow> {
    if (patch.requireMfa && !(await this.mfa.isEnabled(actor.userId)))
      throw new AppError(
        "MFA_ENROLMENT_REQUIRED",
        "Turn on two-factor authentication for yourself (an authenticator app, POST /v1/me/mfa/totp, or a passkey, POST /v1/me/passkeys) before requiring it of the organisation.",
      );
    const now = this.now();
    return this.store.transaction(async (s, tx) => {
      // Read under the row lock: the settings this change replaces are exactly the ones recorded.
      const before = await s.findForUpdate(orgId);
      if (!before) throw new AppError("NOT_FOUND");
      let requireMfa = patch.requireMfa;
      if (requireMfa === false) {
        // Already off: nothing is weakened, so nothing is written either; a concurrent request turning it
        // on is never undone by a caller who may not turn it off.
        if (before.require_mfa === 1) assertMayWeakenMfa(actor, assurance);
        else requireMfa = undefined;
      }
      const change = {
        ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
        ...(requireMfa !== undefined ? { require_mfa: requireMfa ? 1 : 0 } : {}),
      };
      await s.update(orgId, change, now);
      const after: OrganizationRow = { ...before, ...change, updated_at: now };
      const diff = changed(settingsOf(before), settingsOf(after));
      if (diff)
        await this.audit.record(tx, by({ action: "org.updated", orgId, entity: orgEntity(orgId), ...diff }));
      return after;
    });
  }

  listMembers(
    orgId: string,
    limit: number,
    after: string | undefined,
  ): Promise<Array<MembershipRow & { email: string }>> {
    return this.store.listMembers(orgId, limit, after);
  }

  /** Changes a member's role. Only an OWNER makes or changes an OWNER; the last OWNER stays. */
  async changeRole(orgId: string, actor: Actor, userId: string, role: Role, by: Stamp): Promise<void> {
    const target = await this.store.membership(orgId, userId);
    if (!target) throw new AppError("NOT_FOUND");
    const ownerRule = (current: Role) => {
      if ((role === "OWNER" || current === "OWNER") && actor.role !== "OWNER")
        throw new AppError("OWNER_REQUIRED", "Only an owner can grant or change the owner role.");
    };
    ownerRule(target.role);
    await this.changeMember(orgId, userId, role, async (before, tx) => {
      // Checked again on the role the change replaced: it may have become OWNER meanwhile.
      ownerRule(before);
      if (before === role) return;
      await this.audit.record(
        tx,
        by({
          action: "member.role_changed",
          orgId,
          entity: memberEntity(userId),
          before: { role: before },
          after: { role },
        }),
      );
    });
  }

  /** Removes a member. Anyone may leave; removing someone else needs members:remove, an OWNER an OWNER. */
  async removeMember(orgId: string, actor: Actor, userId: string, by: Stamp): Promise<void> {
    const self = userId === actor.userId;
    const target = await this.store.membership(orgId, userId);
    if (!target) throw new AppError("NOT_FOUND");
    if (!self && !this.permissions.can(actor.role, "members:remove"))
      throw new AppError("FORBIDDEN", `Your role (${actor.role}) does not allow members:remove.`);
    const ownerRule = (current: Role) => {
      if (!self && current === "OWNER" && actor.role !== "OWNER")
        throw new AppError("OWNER_REQUIRED", "Only an owner can remove an owner.");
    };
    ownerRule(target.role);
    await this.changeMember(orgId, userId, null, async (before, tx) => {
      ownerRule(before);
      await this.audit.record(
        tx,
        by({
          action: "member.removed",
          orgId,
          entity: memberEntity(userId),
          before: { role: before },
          metadata: { left: self },
        }),
      );
    });
  }

  /**
   * Changes or removes a membership (`role` null) and, in the same transaction, runs `also` with the role
   * it replaced (the audit entry; a refusal there undoes the change). The store's refusals become errors.
   */
  private async changeMember(
    orgId: string,
    userId: string,
    role: Role | null,
    also: (before: Role, tx: Db) => Promise<void>,
  ): Promise<void> {
    const change: RoleChange = await this.store.transaction(async (s, tx) => {
      const c = await s.changeMember(orgId, userId, role);
      if (c.result === "ok") await also(c.before, tx);
      return c;
    });
    if (change.result === "not_found") throw new AppError("NOT_FOUND");
    if (change.result === "last_owner") throw new AppError("LAST_OWNER");
  }

  /** Adds a member (invitation acceptance, inside the organisation's transaction); false if already one. */
  addMember(orgId: string, userId: string, role: Role): Promise<boolean> {
    return this.store.addMember(orgId, userId, role, this.now());
  }

  /** The caller's role and the org's MFA requirement; undefined if not a member. Cached (see AccessCache). */
  access(orgId: string, userId: string): Promise<Access | undefined> {
    return this.store.access(orgId, userId);
  }

  /** The cached answer of `access`, or undefined: the synchronous fast path of the tenant check. */
  accessCached(orgId: string, userId: string): Access | undefined {
    return this.store.accessCached(orgId, userId);
  }

  /**
   * The organisations that would be left without an OWNER but not without members if the user's account
   * went (GDPR-2): the account may not be erased until someone else owns them.
   */
  soleOwnerships(userId: string): Promise<string[]> {
    return this.store.soleOwnerships(userId);
  }

  /**
   * Removes an erased account from every organisation at once (GDPR-2), cached access dropped on every
   * process, unless it is (by now) the only owner of one with other members: then nothing is removed
   * and those organisations are returned as `blocked`. Not audited member by member: the erasure is one
   * event.
   */
  removeUser(userId: string, tx: Db): Promise<{ left: string[]; blocked: string[] }> {
    return this.store.removeUser(userId, tx);
  }

  /** Drops every process's cached access of `userId` to `orgIds`: after `removeUser`'s transaction. */
  forgetMember(orgIds: readonly string[], userId: string): void {
    this.store.dropMember(orgIds, userId);
  }

  /** Every organisation with its member count, by id (platform admins' list, cursor pagination). */
  listAll(limit: number, after: string | undefined, search?: string) {
    return this.store.listAll(limit, after, search);
  }
}

const orgEntity = (id: string) => ({ type: "org", id });
const memberEntity = (userId: string) => ({ type: "member", id: userId });

/** An organisation's settings as the API names them: what `org.created` and `org.updated` record. */
function settingsOf(o: OrganizationRow): Record<string, unknown> {
  return { name: o.name, slug: o.slug, requireMfa: o.require_mfa === 1 };
}

/** The fields whose values differ, before and after; undefined when none does (no event). */
function changed(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): { before: Record<string, unknown>; after: Record<string, unknown> } | undefined {
  const keys = Object.keys(after).filter((k) => before[k] !== after[k]);
  if (keys.length === 0) return undefined;
  return {
    before: Object.fromEntries(keys.map((k) => [k, before[k]])),
    after: Object.fromEntries(keys.map((k) => [k, after[k]])),
  };
}

/** Who may stop requiring MFA of an organisation's members: checked in this order, the first refusal wins. */
function assertMayWeakenMfa(actor: Actor, assurance: Assurance): void {
  if (assurance.impersonated)
    throw new AppError(
      "IMPERSONATION_FORBIDDEN",
      "Not while impersonating: only the user can stop requiring two-factor authentication.",
    );
  if (actor.role !== "OWNER")
    throw new AppError("OWNER_REQUIRED", "Only an owner can stop requiring two-factor authentication.");
  if (!assurance.recentlyAuthenticated)
    throw new AppError(
      "REAUTH_REQUIRED",
      "Confirm your password (POST /v1/auth/reauth) to stop requiring two-factor authentication.",
    );
}
