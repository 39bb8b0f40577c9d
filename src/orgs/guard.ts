import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { AppError } from "../http/errors.js";
import type { Logger } from "../log/logger.js";
import type { MfaService } from "../mfa/service.js";
import { type Action, can, isAction, type Role } from "./permissions.js";
import type { OrgStore } from "./store.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The permission a tenant route needs (AUTHZ-1). Required on every `/v1/orgs/:orgId/*` route. */
    action?: Action;
  }
  interface FastifyRequest {
    /** The organisation the request acts in and the caller's role there, set by the tenant guard. */
    tenant?: { readonly orgId: string; readonly role: Role };
  }
}

/** A refused action (AUTHZ-6). The audit capability persists these; until then they are logged. */
export interface Denial {
  readonly actorId: string;
  readonly orgId: string;
  readonly action: Action;
  readonly resource: string;
  readonly reason: "not_member" | "role" | "mfa_required";
}
export interface DenialSink {
  record(denial: Denial): void;
}
export const logDenials = (log: Logger): DenialSink => ({
  record: (d) => log.warn({ denial: d }, "permission denied"),
});

const ORG_ID = /^org_[0-9A-Z]{26}$/;
const TENANT_PREFIX = "/v1/orgs/:orgId";

/** Start-up check: a tenant route without a known action, or without an authenticated surface, cannot exist. */
export function checkTenantRoute(route: RouteOptions): void {
  const action = route.config?.action;
  if (
    route.url.startsWith(TENANT_PREFIX) &&
    route.method !== "OPTIONS" &&
    route.method !== "HEAD" &&
    !action
  ) {
    throw new Error(
      `Tenant route ${String(route.method)} ${route.url} declares no action (config.action); every tenant route must (AUTHZ-1).`,
    );
  }
  if (action && !isAction(action)) throw new Error(`Route ${route.url}: unknown action "${action}"`);
  if (action && !route.config?.auth)
    throw new Error(`Route ${route.url}: a tenant route needs an authenticated surface (config.auth)`);
}

/**
 * The tenant guard (AUTHZ-1, AUTHZ-2): on every route that declares an action, it resolves the
 * organisation from the path and the caller's membership, and checks the action against the one
 * permission table. An unknown organisation and one the caller does not belong to answer the same 404,
 * so ids cannot be probed; a role without the action gets 403 and the denial is recorded.
 */
export const tenantGuard = fp(
  async (app: FastifyInstance, opts: { orgs: OrgStore; mfa: MfaService; denials: DenialSink }) => {
    const { orgs, mfa, denials } = opts;
    app.decorateRequest("tenant", undefined);
    app.addHook("onRoute", checkTenantRoute);
    app.addHook("onRequest", (request: FastifyRequest, _reply, done) => {
      const action = request.routeOptions.config.action;
      if (!action) return done();
      resolve(request, action).then(() => done(), done);
    });

    async function resolve(request: FastifyRequest, action: Action): Promise<void> {
      const auth = request.auth;
      if (!auth) throw new AppError("UNAUTHENTICATED");
      const orgId = (request.params as { orgId?: string }).orgId ?? "";
      const deny = (reason: Denial["reason"]) =>
        denials.record({
          actorId: auth.userId,
          orgId,
          action,
          resource: request.routeOptions.url ?? request.url,
          reason,
        });
      const access = ORG_ID.test(orgId) ? await orgs.access(orgId, auth.userId) : undefined;
      if (!access) {
        deny("not_member");
        throw new AppError("NOT_FOUND");
      }
      if (access.require_mfa && !(await mfa.isEnabled(auth.userId))) {
        deny("mfa_required");
        throw new AppError("MFA_ENROLMENT_REQUIRED");
      }
      if (!can(access.role, action)) {
        deny("role");
        throw new AppError("FORBIDDEN", `Your role (${access.role}) does not allow ${action}.`);
      }
      request.tenant = { orgId, role: access.role };
    }
  },
  { name: "bulwark-tenant-guard" },
);
