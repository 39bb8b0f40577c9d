import { randomBytes } from "node:crypto";
import { AppError } from "../http/errors.js";
import type { MfaService } from "../mfa/service.js";
import { newId } from "../util/ids.js";
import type { Access } from "./access-cache.js";
import type { PermissionTable, Role } from "./permissions.js";
import type { OrgStore } from "./store.js";
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
 * always keeps one; requiring MFA of everyone starts with yourself.
 */
export class OrgService {
  constructor(
    private readonly store: OrgStore,
    private readonly mfa: MfaService,
    readonly permissions: PermissionTable,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Creates an organisation with `ownerId` as its first OWNER, atomically. A slug the caller chose that is
   * taken: SLUG_TAKEN. A slug derived from the name never fails: when taken (two "Acme"s, or names
   * without Latin letters, which all derive "org"), a random suffix makes it unique, so creating an
   * organisation never tells anyone which slugs other tenants hold.
   */
  async create(ownerId: string, name: string, slug?: string): Promise<OrganizationRow> {
    const now = this.now();
    const base = slug ?? slugify(name);
    for (let attempt = 0; attempt < 6; attempt++) {
      const org: OrganizationRow = {
        id: newId("org", now),
        name: name.trim(),
        slug: attempt === 0 ? base : `${base.slice(0, 40)}-${randomBytes(5).toString("hex").slice(0, 7)}`,
        require_mfa: 0,
        created_at: now,
        updated_at: now,
      };
      if (await this.store.create(org, ownerId)) return org;
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
  ): Promise<OrganizationRow> {
    let requireMfa = patch.requireMfa;
    if (requireMfa && !(await this.mfa.isEnabled(actor.userId)))
      throw new AppError(
        "MFA_ENROLMENT_REQUIRED",
        "Turn on two-factor authentication for yourself (POST /v1/me/mfa/totp) before requiring it of the organisation.",
      );
    if (requireMfa === false) {
      // Already off: nothing is weakened, so nothing is written either; a concurrent request turning it on
      // is never undone by a caller who may not turn it off.
      if ((await this.get(orgId)).require_mfa === 1) assertMayWeakenMfa(actor, assurance);
      else requireMfa = undefined;
    }
    await this.store.update(
      orgId,
      {
        ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
        ...(requireMfa !== undefined ? { require_mfa: requireMfa ? 1 : 0 } : {}),
      },
      this.now(),
    );
    return this.get(orgId);
  }

  listMembers(
    orgId: string,
    limit: number,
    after: string | undefined,
  ): Promise<Array<MembershipRow & { email: string }>> {
    return this.store.listMembers(orgId, limit, after);
  }

  /** Changes a member's role. Only an OWNER makes or changes an OWNER; the last OWNER stays. */
  async changeRole(orgId: string, actor: Actor, userId: string, role: Role): Promise<void> {
    const target = await this.store.membership(orgId, userId);
    if (!target) throw new AppError("NOT_FOUND");
    if ((role === "OWNER" || target.role === "OWNER") && actor.role !== "OWNER")
      throw new AppError("OWNER_REQUIRED", "Only an owner can grant or change the owner role.");
    this.settle(await this.store.changeMember(orgId, userId, role));
  }

  /** Removes a member. Anyone may leave; removing someone else needs members:remove, an OWNER an OWNER. */
  async removeMember(orgId: string, actor: Actor, userId: string): Promise<void> {
    const self = userId === actor.userId;
    const target = await this.store.membership(orgId, userId);
    if (!target) throw new AppError("NOT_FOUND");
    if (!self && !this.permissions.can(actor.role, "members:remove"))
      throw new AppError("FORBIDDEN", `Your role (${actor.role}) does not allow members:remove.`);
    if (!self && target.role === "OWNER" && actor.role !== "OWNER")
      throw new AppError("OWNER_REQUIRED", "Only an owner can remove an owner.");
    this.settle(await this.store.changeMember(orgId, userId, null));
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

  /** Every organisation with its member count, by id (platform admins' list, cursor pagination). */
  listAll(limit: number, after: string | undefined, search?: string) {
    return this.store.listAll(limit, after, search);
  }

  private settle(result: "ok" | "not_found" | "last_owner"): void {
    if (result === "not_found") throw new AppError("NOT_FOUND");
    if (result === "last_owner") throw new AppError("LAST_OWNER");
  }
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
