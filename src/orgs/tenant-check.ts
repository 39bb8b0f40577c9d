import type { FastifyRequest } from "fastify";
import type { TenantAccess, TenantCheck } from "../auth/pipeline.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../http/errors.js";
import type { MfaService } from "../mfa/service.js";
import type { Access } from "./access-cache.js";
import type { PermissionTable, Role } from "./permissions.js";
import type { Actor, OrgService } from "./service.js";

/** A refused action (AUTHZ-6). The audit capability persists these; until then they are logged. */
export interface Denial {
  readonly actorId: string;
  readonly actorKind: string;
  readonly orgId: string;
  readonly action: string;
  readonly resource: string;
  readonly reason: "not_member" | "role" | "scope" | "mfa_required";
}
export interface DenialSink {
  record(denial: Denial, request: FastifyRequest): void;
}
/** Written on the request's logger, so the line carries the request id (OBS-1). */
export const logDenials: DenialSink = {
  record: (d, request) => request.log.warn({ denial: d }, "permission denied"),
};

const ORG_ID = /^org_[0-9A-Z]{26}$/;

/** A member acting through a role. */
class MemberAccess implements TenantAccess {
  constructor(
    readonly orgId: string,
    readonly role: Role,
    private readonly permissions: PermissionTable,
    /** A member's credential with scopes (an access token): the role and the scopes must both allow. */
    private readonly scopes?: ReadonlySet<string>,
  ) {}
  can(action: string): boolean {
    return this.permissions.can(this.role, action) && (this.scopes?.has(action) ?? true);
  }
}

/** A credential bound to one organisation, acting through its scopes. */
class ScopedAccess implements TenantAccess {
  readonly role = undefined;
  constructor(
    readonly orgId: string,
    private readonly scopes: ReadonlySet<string>,
  ) {}
  can(action: string): boolean {
    return this.scopes.has(action);
  }
}

/**
 * The tenant check of the guard pipeline (AUTHZ-1, AUTHZ-2): the organisation comes from the path, and
 * the principal must be able to act there: a member (role from the one table), or a credential bound to
 * that organisation (its scopes). An unknown organisation and a foreign one answer the same 404, so ids
 * cannot be probed; a missing permission is 403, and every refusal is recorded. A cached membership and
 * MFA state make the whole check synchronous.
 */
export function tenantCheck(
  orgs: OrgService,
  mfa: MfaService,
  permissions: PermissionTable,
  denials: DenialSink,
): TenantCheck {
  return (request, principal, action) => {
    const orgId = (request.params as { orgId?: string }).orgId ?? "";
    const deny = (reason: Denial["reason"], err: AppError): AppError => {
      denials.record(
        {
          actorId: principal.id,
          actorKind: principal.kind,
          orgId,
          action,
          resource: request.routeOptions.url ?? request.url,
          reason,
        },
        request,
      );
      return err;
    };
    const t = principal.tenancy;
    if (!ORG_ID.test(orgId) || t.kind === "platform") throw deny("not_member", new AppError("NOT_FOUND"));
    if (t.kind === "organisation") {
      if (t.orgId !== orgId) throw deny("not_member", new AppError("NOT_FOUND"));
      if (!t.scopes.has(action))
        throw deny("scope", new AppError("SCOPE_MISSING", `This credential lacks the scope ${action}.`));
      if (!t.member) return new ScopedAccess(orgId, t.scopes);
    }
    const scopes = t.kind === "organisation" ? t.scopes : undefined;
    const userId = principal.userId ?? "";
    const decide = (
      access: Access | undefined,
      mfaOn: boolean | undefined,
    ): TenantAccess | Promise<TenantAccess> => {
      if (!access) throw deny("not_member", new AppError("NOT_FOUND"));
      if (access.require_mfa) {
        if (mfaOn === undefined) return mfa.isEnabled(userId).then((on) => decide(access, on));
        if (!mfaOn) throw deny("mfa_required", new AppError("MFA_ENROLMENT_REQUIRED"));
      }
      if (!permissions.can(access.role, action))
        throw deny("role", new AppError("FORBIDDEN", `Your role (${access.role}) does not allow ${action}.`));
      return new MemberAccess(orgId, access.role, permissions, scopes);
    };
    const cached = orgs.accessCached(orgId, userId);
    if (cached) return decide(cached, cached.require_mfa ? mfa.isEnabledCached(userId) : undefined);
    return orgs.access(orgId, userId).then((a) => decide(a, undefined));
  };
}

/** The acting member of a tenant request, for the owner rules of the organisations service. */
export function actorOf(request: FastifyRequest): Actor {
  const p: Principal | undefined = request.principal;
  const role = request.tenant?.role as Role | undefined;
  if (!p?.userId || !role)
    throw new AppError("FORBIDDEN", "This operation needs a member of the organisation.");
  return { userId: p.userId, role };
}
