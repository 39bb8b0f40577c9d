import type { FastifyInstance } from "fastify";
import type { BulwarkContext } from "../app.js";
import type { IdentityService } from "../identity/service.js";
import type { Logger } from "../log/logger.js";
import type { MfaService } from "../mfa/service.js";
import { Limiter, MemoryCounterStore } from "../ratelimit/limiter.js";
import type { SessionService } from "../sessions/service.js";
import { AccessCache } from "./access-cache.js";
import { type DenialSink, logDenials, tenantGuard } from "./guard.js";
import { invitationRoutes } from "./invitations.js";
import { ACTIONS } from "./permissions.js";
import { orgRoutes } from "./plugin.js";
import { OrgStore } from "./store.js";

/** Wires organisations: the tenant guard (before any tenant route), the routes, and their claims. */
export async function registerOrgs(
  app: FastifyInstance,
  ctx: BulwarkContext,
  log: Logger,
  deps: { mfa: MfaService; identity: IdentityService; sessions: SessionService },
  denials: DenialSink = logDenials(log),
): Promise<{ orgs: OrgStore }> {
  const { mfa, identity, sessions } = deps;
  const orgs = new OrgStore(ctx.db.global, ctx.db.engine, new AccessCache(30_000, 100_000, ctx.bus));
  await app.register(tenantGuard, { orgs, mfa, denials });
  await app.register(orgRoutes, { orgs, mfa });
  await app.register(invitationRoutes, {
    config: ctx.config,
    db: ctx.db,
    orgs,
    identity,
    sessions,
    resendLimiter: new Limiter(new MemoryCounterStore(), "invitation-resend", 3, 3_600_000),
  });
  ctx.posture.register({
    id: "AUTHZ-5",
    title: "Invitations",
    claim:
      "Members are invited by email with a role; the link is single-use, expires in 7 days, works only for the invited address, and resending is rate-limited.",
    settings: { expiresInDays: 7, resendsPerHour: 3 },
    enabled: true,
  });
  ctx.posture.register({
    id: "AUTHZ-1",
    title: "Roles and one permission table",
    claim:
      "Every organisation route declares its action and one guard checks it against a single table of roles (OWNER, ADMIN, MEMBER, VIEWER) and actions; a route without a declared action cannot start.",
    settings: { roles: ["OWNER", "ADMIN", "MEMBER", "VIEWER"], actions: ACTIONS.length },
    enabled: true,
  });
  ctx.posture.register({
    id: "AUTHZ-2",
    title: "Tenant isolation, twice",
    claim:
      ctx.db.engine === "postgres"
        ? "The organisation comes from the caller's memberships; the data layer refuses tenant queries outside an organisation's transaction, and PostgreSQL row-level security (forced, with a role that cannot bypass it) enforces the same in the database."
        : "The organisation comes from the caller's memberships; the data layer refuses tenant queries outside an organisation's transaction.",
    settings: { engine: ctx.db.engine, rowLevelSecurity: ctx.db.engine === "postgres" },
    enabled: true,
  });
  return { orgs };
}
